// Posture of infra/template.yaml, resolved offline: the private bucket and its CloudFront
// front, response headers, Lambda settings, tables, WebSocket routes and permissions,
// Cognito client and the outputs scripts/deploy reads.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation, anonymousPrincipal } from '@cloud-copilot/iam-simulate';
import { fake, intrinsicNames, loadTemplate, Resolver } from './lib/template.mjs';
import { routes } from './lib/routes.mjs';
import { routeWiring } from './lib/wiring.mjs';

const template = loadTemplate();
const resolver = new Resolver(template);
const resources = resolver.resources();
const byType = (type) => Object.entries(resources).filter(([, r]) => r.Type === type);
const props = (id) => resolver.resolve(resources[id].Properties);
const only = (type) => {
  const found = byType(type);
  assert.equal(found.length, 1, `exactly one ${type}`);
  return found[0];
};
const byoPool = {
  ExistingUserPoolId: 'eu-west-1_Byo123456',
  ExistingUserPoolClientId: 'byoclient1234567890abcdef',
  ExistingCognitoDomainUrl: 'https://auth.example.com',
};

describe('resolver', () => {
  test('models every intrinsic the template uses, for both user pool modes', () => {
    const modelled = new Set(['Ref', 'Fn::GetAtt', 'Fn::Sub', 'Fn::If', 'Fn::Equals', 'Fn::Not', 'Fn::And',
      'Fn::Or', 'Fn::Join', 'Fn::Select', 'Fn::Split', 'Fn::FindInMap', 'Fn::Base64', 'Fn::GetAZs']);
    for (const name of intrinsicNames(template)) {
      assert.ok(modelled.has(name), `${name} is not modelled by tests/infra/lib/template.mjs`);
    }
    for (const overrides of [{}, byoPool, { AllowAdminPasswordAuth: 'true', AccessLogging: 'true' }]) {
      const r = new Resolver(template, overrides);
      for (const [id, resource] of Object.entries(r.resources())) {
        assert.doesNotThrow(() => r.resolve(resource.Properties ?? {}), id);
      }
      for (const [id, output] of Object.entries(template.Outputs)) {
        assert.doesNotThrow(() => r.resolve(output.Value), id);
      }
      for (const [, fn] of r.resourcesOfType('AWS::Serverless::Function')) {
        r.resolve(fn.Properties);
      }
    }
  });
});

describe('site bucket', () => {
  const [bucketId] = only('AWS::S3::Bucket');
  const bucket = props(bucketId);
  const bucketArn = resolver.getAtt(bucketId, 'Arn');
  const [, policyResource] = only('AWS::S3::BucketPolicy');
  const policy = resolver.resolve(policyResource.Properties);
  const distributionArn = `arn:aws:cloudfront::${fake.account}:distribution/${fake.distributionId}`;

  test('Block Public Access all four, ACLs disabled, encrypted, no website endpoint', () => {
    assert.deepEqual(bucket.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.deepEqual(bucket.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    assert.ok(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm);
    assert.equal(bucket.WebsiteConfiguration, undefined);
    assert.equal(bucket.AccessControl, undefined);
    assert.equal(policy.Bucket, resolver.ref(bucketId));
  });

  test('policy: only CloudFront, only GetObject, only this distribution; TLS required', () => {
    const allows = policy.PolicyDocument.Statement.filter((s) => s.Effect === 'Allow');
    assert.deepEqual(allows, [
      {
        Sid: allows[0]?.Sid,
        Effect: 'Allow',
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Resource: `${bucketArn}/*`,
        Condition: { StringEquals: { 'AWS:SourceArn': distributionArn } },
      },
    ]);
    const denies = policy.PolicyDocument.Statement.filter((s) => s.Effect === 'Deny');
    assert.ok(
      denies.some(
        (s) => s.Principal === '*' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false' &&
          [s.Resource].flat().includes(bucketArn) && [s.Resource].flat().includes(`${bucketArn}/*`),
      ),
      'a Deny of non-TLS requests on the bucket and its objects',
    );
  });

  test('policy, simulated: who can read the site', async () => {
    const object = `${bucketArn}/index.html`;
    const simulate = async (principal, action, context) => {
      const result = await runSimulation(
        {
          identityPolicies: [],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          resourcePolicy: policy.PolicyDocument,
          request: {
            principal,
            action,
            resource: { resource: action === 's3:ListBucket' ? bucketArn : object, accountId: fake.account },
            contextVariables: { 'aws:SecureTransport': 'true', ...context },
          },
          additionalSettings: { s3: { blockPublicAccess: true } },
        },
        {},
      );
      assert.notEqual(result.resultType, 'error', JSON.stringify(result.errors));
      return result.result.analysis.result;
    };
    const cloudfront = 'cloudfront.amazonaws.com';
    assert.equal(await simulate(cloudfront, 's3:GetObject', { 'aws:SourceArn': distributionArn }), 'Allowed');
    const otherDistribution = `arn:aws:cloudfront::444455556666:distribution/EOTHER1234567`;
    assert.notEqual(await simulate(cloudfront, 's3:GetObject', { 'aws:SourceArn': otherDistribution }), 'Allowed');
    assert.notEqual(await simulate(cloudfront, 's3:PutObject', { 'aws:SourceArn': distributionArn }), 'Allowed');
    assert.notEqual(await simulate(cloudfront, 's3:ListBucket', { 'aws:SourceArn': distributionArn }), 'Allowed');
    assert.notEqual(await simulate(anonymousPrincipal, 's3:GetObject', {}), 'Allowed');
    assert.notEqual(await simulate('arn:aws:iam::444455556666:role/someone', 's3:GetObject', {}), 'Allowed');
    assert.equal(
      await simulate(cloudfront, 's3:GetObject', { 'aws:SourceArn': distributionArn, 'aws:SecureTransport': 'false' }),
      'ExplicitlyDenied',
    );
  });
});

describe('CloudFront', () => {
  const [distributionId, distribution] = only('AWS::CloudFront::Distribution');
  const config = props(distributionId).DistributionConfig;
  const [bucketId] = only('AWS::S3::Bucket');

  test('S3 REST origin through origin access control (no OAI, no website endpoint)', () => {
    assert.equal(config.Origins.length, 1);
    for (const origin of config.Origins) {
      assert.equal(origin.DomainName, resolver.getAtt(bucketId, 'RegionalDomainName'));
      assert.doesNotMatch(origin.DomainName, /s3-website/);
      assert.ok(origin.OriginAccessControlId, 'OriginAccessControlId set');
      assert.equal(origin.S3OriginConfig.OriginAccessIdentity, '');
      assert.equal(origin.CustomOriginConfig, undefined);
    }
    const [, oac] = only('AWS::CloudFront::OriginAccessControl');
    assert.deepEqual(
      (({ OriginAccessControlOriginType, SigningBehavior, SigningProtocol }) => ({
        OriginAccessControlOriginType, SigningBehavior, SigningProtocol,
      }))(oac.Properties.OriginAccessControlConfig),
      { OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    );
    assert.deepEqual(distribution.Properties.DistributionConfig.Origins[0].OriginAccessControlId, {
      'Fn::GetAtt': ['SiteOriginAccessControl', 'Id'],
    });
  });

  test('HTTPS only, index.html root, read-only methods, our headers policy on every behavior', () => {
    assert.equal(config.DefaultRootObject, 'index.html');
    assert.equal(config.Enabled, true);
    const [headersId] = only('AWS::CloudFront::ResponseHeadersPolicy');
    for (const behavior of [config.DefaultCacheBehavior, ...(config.CacheBehaviors ?? [])]) {
      assert.ok(
        ['redirect-to-https', 'https-only'].includes(behavior.ViewerProtocolPolicy),
        `ViewerProtocolPolicy ${behavior.ViewerProtocolPolicy}`,
      );
      assert.deepEqual(behavior.AllowedMethods, ['GET', 'HEAD']);
      assert.equal(behavior.ResponseHeadersPolicyId, resolver.ref(headersId));
    }
  });

  const cspOf = (r) => {
    const [headersId] = Object.entries(r.resources()).find(([, x]) => x.Type === 'AWS::CloudFront::ResponseHeadersPolicy');
    const security = r.resolve(r.resources()[headersId].Properties).ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const directives = {};
    for (const part of security.ContentSecurityPolicy.ContentSecurityPolicy.split(';')) {
      const [name, ...values] = part.trim().split(/\s+/);
      if (name) {
        assert.ok(!(name in directives), `${name} twice`);
        directives[name] = values;
      }
    }
    return { security, directives };
  };

  test('Content-Security-Policy: strict, with exactly the API and Cognito origins', () => {
    const { security, directives } = cspOf(resolver);
    assert.equal(security.ContentSecurityPolicy.Override, true);
    const domainPrefix = resolver.ref('UserPoolDomain');
    assert.match(domainPrefix, /^stratus-[0-9a-f]{12}$/);
    const cognito = `https://${domainPrefix}.auth.${fake.region}.amazoncognito.com`;
    const api = `wss://${fake.apiId}.execute-api.${fake.region}.amazonaws.com`;
    assert.deepEqual(directives, {
      'default-src': ["'none'"],
      'script-src': ["'self'"],
      'style-src': ["'self'"],
      'img-src': ["'self'", 'data:'],
      'font-src': ["'self'"],
      'manifest-src': ["'self'"],
      'connect-src': ["'self'", api, cognito],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'self'", cognito],
      'frame-ancestors': ["'none'"],
      'require-trusted-types-for': ["'script'"],
    });
    const byo = cspOf(new Resolver(template, byoPool)).directives;
    assert.deepEqual(byo['connect-src'], ["'self'", api, byoPool.ExistingCognitoDomainUrl]);
  });

  test('HSTS >= 1 year with subdomains, nosniff, DENY framing, referrer policy', () => {
    const { security } = cspOf(resolver);
    assert.ok(security.StrictTransportSecurity.AccessControlMaxAgeSec >= 31536000);
    assert.equal(security.StrictTransportSecurity.IncludeSubdomains, true);
    assert.equal(security.StrictTransportSecurity.Override, true);
    assert.equal(security.ContentTypeOptions.Override, true);
    assert.equal(security.FrameOptions.FrameOption, 'DENY');
    assert.equal(security.FrameOptions.Override, true);
    assert.ok(['no-referrer', 'same-origin', 'strict-origin-when-cross-origin'].includes(security.ReferrerPolicy.ReferrerPolicy));
  });
});

describe('Lambda', () => {
  const functions = resolver.resourcesOfType('AWS::Serverless::Function');

  test('Architecture parameter: arm64 by default, arm64 or x86_64', () => {
    const param = template.Parameters.Architecture;
    assert.equal(param.Default, 'arm64');
    assert.deepEqual([...param.AllowedValues].sort(), ['arm64', 'x86_64']);
    assert.deepEqual(template.Globals.Function.Architectures, [{ Ref: 'Architecture' }]);
    for (const arch of ['arm64', 'x86_64']) {
      const r = new Resolver(template, { Architecture: arch });
      for (const [id, fn] of r.resourcesOfType('AWS::Serverless::Function')) {
        assert.deepEqual(r.resolve(fn.Properties.Architectures), [arch], id);
      }
    }
  });

  test('every function: provided.al2023, bootstrap, one zip, bounded timeout, own log group', () => {
    assert.equal(functions.length, routes.length);
    const integrationTimeouts = byType('AWS::ApiGatewayV2::Integration').map(([, i]) => i.Properties.TimeoutInMillis ?? 29000);
    for (const [id, fn] of functions) {
      const p = resolver.resolve(fn.Properties);
      assert.equal(p.Runtime, 'provided.al2023', id);
      assert.equal(p.Handler, 'bootstrap', id);
      assert.equal(p.CodeUri, template.Globals.Function.CodeUri, `${id} uses the shared zip`);
      assert.ok(p.Timeout >= 1 && p.Timeout * 1000 < Math.min(...integrationTimeouts), `${id} timeout`);
      assert.ok(p.MemorySize >= 128, id);
      assert.equal(p.LoggingConfig.LogFormat, 'Text', `${id}: EMF and JSON lines go to stdout as they are`);
      const group = resources[fn.Properties.LoggingConfig.LogGroup.Ref];
      assert.equal(group.Type, 'AWS::Logs::LogGroup');
      assert.ok(resolver.resolve(group.Properties.RetentionInDays) > 0, `${id} log retention`);
    }
    assert.ok(template.Parameters.FunctionTimeout.MaxValue * 1000 < 29000);
  });

  test('environment: Cognito auth and this stack\'s tables, nothing local', () => {
    for (const overrides of [{}, byoPool]) {
      const r = new Resolver(template, overrides);
      for (const [id, fn] of r.resourcesOfType('AWS::Serverless::Function')) {
        const env = r.resolve(fn.Properties.Environment.Variables);
        assert.deepEqual(Object.keys(env).sort(), [
          'STRATUS_AUTH', 'STRATUS_COGNITO_CLIENT_ID', 'STRATUS_COGNITO_TOKEN_USE', 'STRATUS_COGNITO_USER_POOL_ID',
          'STRATUS_CONNECTIONS_TABLE', 'STRATUS_MESSAGES_TABLE',
        ], id);
        assert.equal(env.STRATUS_AUTH, 'cognito');
        assert.equal(env.STRATUS_COGNITO_TOKEN_USE, 'id');
        assert.equal(env.STRATUS_CONNECTIONS_TABLE, r.ref('ConnectionsTable'));
        assert.equal(env.STRATUS_MESSAGES_TABLE, r.ref('MessagesTable'));
        if (overrides.ExistingUserPoolId) {
          assert.equal(env.STRATUS_COGNITO_USER_POOL_ID, overrides.ExistingUserPoolId);
          assert.equal(env.STRATUS_COGNITO_CLIENT_ID, overrides.ExistingUserPoolClientId);
        } else {
          assert.equal(env.STRATUS_COGNITO_USER_POOL_ID, fake.userPoolId);
          assert.equal(env.STRATUS_COGNITO_CLIENT_ID, fake.userPoolClientId);
        }
      }
    }
  });
});

describe('DynamoDB', () => {
  const tables = Object.fromEntries(byType('AWS::DynamoDB::Table'));

  test('two tables keyed like dynamodb_tables.cpp: pk/sk strings, on demand, TTL on ttl, no index', () => {
    assert.deepEqual(Object.keys(tables).sort(), ['ConnectionsTable', 'MessagesTable']);
    for (const [id, table] of Object.entries(tables)) {
      const p = resolver.resolve(table.Properties);
      assert.deepEqual(p.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], id);
      assert.deepEqual(p.AttributeDefinitions, [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }], id);
      assert.equal(p.BillingMode, 'PAY_PER_REQUEST', id);
      assert.deepEqual(p.TimeToLiveSpecification, { AttributeName: 'ttl', Enabled: true }, id);
      assert.equal(p.GlobalSecondaryIndexes, undefined, `${id}: the store reads no GSI`);
      assert.equal(p.LocalSecondaryIndexes, undefined, id);
      assert.equal(p.SSESpecification?.SSEEnabled, true, `${id}: KMS (AWS managed key) encryption`);
    }
  });

  test('messages: point-in-time recovery, kept on stack deletion', () => {
    const messages = tables.MessagesTable;
    assert.equal(
      resolver.resolve(messages.Properties).PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled,
      true,
      'messages table: point-in-time recovery',
    );
    assert.equal(messages.DeletionPolicy, 'Retain');
    assert.equal(messages.UpdateReplacePolicy, 'Retain');
  });
});

describe('WebSocket API', () => {
  const [apiId, api] = only('AWS::ApiGatewayV2::Api');
  const wiring = routeWiring(resources);
  const [stageId, stage] = only('AWS::ApiGatewayV2::Stage');

  test('WEBSOCKET with $request.body.action', () => {
    assert.equal(api.Properties.ProtocolType, 'WEBSOCKET');
    assert.equal(api.Properties.RouteSelectionExpression, '$request.body.action');
  });

  test('every route -> AWS_PROXY integration -> function, invokable only from its own route', () => {
    for (const { route } of routes) {
      const w = wiring[route];
      assert.ok(w, `route ${route} exists`);
      const integration = props(w.integration);
      assert.equal(integration.IntegrationType, 'AWS_PROXY', route);
      assert.equal(integration.ApiId, fake.apiId);
      assert.equal(
        integration.IntegrationUri,
        `arn:aws:apigateway:${fake.region}:lambda:path/2015-03-31/functions/${resolver.getAtt(w.function, 'Arn')}/invocations`,
      );
      assert.ok(integration.TimeoutInMillis <= 29000);
      assert.equal(w.permissions.length, 1, `${route}: one invoke permission`);
      const permission = props(w.permissions[0]);
      assert.deepEqual(permission, {
        Action: 'lambda:InvokeFunction',
        FunctionName: resolver.ref(w.function),
        Principal: 'apigateway.amazonaws.com',
        SourceArn: `arn:aws:execute-api:${fake.region}:${fake.account}:${fake.apiId}/${resolver.parameters.StageName}/${route}`,
      });
      const routeProps = props(w.route);
      assert.equal(routeProps.AuthorizationType, 'NONE', `${route}: the handler verifies the token`);
    }
    // No permission or integration without a route.
    assert.equal(byType('AWS::Lambda::Permission').length, routes.length);
    assert.equal(byType('AWS::ApiGatewayV2::Integration').length, routes.length);
  });

  test('replies reach the caller: custom routes and $default are two-way', () => {
    for (const { route } of routes) {
      const w = wiring[route];
      const routeProps = props(w.route);
      if (route === '$connect' || route === '$disconnect') {
        assert.equal(routeProps.RouteResponseSelectionExpression, undefined, route);
        assert.equal(w.routeResponses.length, 0, route);
      } else {
        assert.equal(routeProps.RouteResponseSelectionExpression, '$default', route);
        assert.equal(w.routeResponses.length, 1, route);
        assert.equal(props(w.routeResponses[0]).RouteResponseKey, '$default', route);
      }
    }
  });

  test('stage: deployed after every route (AutoDeploy), throttled', () => {
    const p = props(stageId);
    assert.equal(p.ApiId, fake.apiId);
    assert.equal(p.AutoDeploy, true);
    assert.equal(p.DeploymentId, undefined, 'AutoDeploy manages deployments');
    const dependsOn = new Set([stage.DependsOn].flat());
    for (const w of Object.values(wiring)) {
      for (const id of [w.route, ...w.routeResponses, ...w.permissions]) {
        assert.ok(dependsOn.has(id), `${stageId} DependsOn ${id}`);
      }
    }
    assert.ok(p.DefaultRouteSettings.ThrottlingRateLimit > 0);
    assert.ok(p.DefaultRouteSettings.ThrottlingBurstLimit > 0);
    assert.equal(p.AccessLogSettings, undefined, 'access logs are off by default');
    const logged = new Resolver(template, { AccessLogging: 'true' });
    const withLogs = logged.resolve(logged.resources()[stageId].Properties);
    assert.equal(withLogs.AccessLogSettings.DestinationArn, logged.getAtt('AccessLogs', 'Arn'));
    assert.doesNotThrow(() => JSON.parse(withLogs.AccessLogSettings.Format));
  });
});

describe('Cognito', () => {
  test('public code-flow client for the site; admin password auth only when asked', () => {
    const client = props('UserPoolClient');
    assert.equal(client.GenerateSecret, false);
    assert.deepEqual(client.AllowedOAuthFlows, ['code']);
    assert.equal(client.AllowedOAuthFlowsUserPoolClient, true);
    assert.ok(client.AllowedOAuthScopes.includes('openid'));
    const site = `https://${fake.distributionDomain}`;
    assert.ok(client.CallbackURLs.includes(site) && client.CallbackURLs.every((u) => u.startsWith(site)));
    assert.ok(client.LogoutURLs.every((u) => u.startsWith(site)));
    assert.ok(!client.ExplicitAuthFlows.includes('ALLOW_ADMIN_USER_PASSWORD_AUTH'));
    const admin = new Resolver(template, { AllowAdminPasswordAuth: 'true' });
    const flows = admin.resolve(admin.resources().UserPoolClient.Properties).ExplicitAuthFlows;
    assert.ok(flows.includes('ALLOW_ADMIN_USER_PASSWORD_AUTH'));
    for (const f of [client.ExplicitAuthFlows, flows]) {
      assert.ok(!f.includes('ALLOW_USER_PASSWORD_AUTH'), 'no plain password auth from browsers');
    }
  });

  test('bring your own pool: nothing Cognito is created', () => {
    const r = new Resolver(template, byoPool);
    const types = Object.values(r.resources()).map((x) => x.Type);
    assert.ok(!types.some((t) => t.startsWith('AWS::Cognito::')));
    assert.ok(template.Rules.ExistingPoolNeedsClientAndDomain, 'a Rule requires the client and domain');
  });
});

describe('outputs', () => {
  test('what scripts/deploy reads', () => {
    const out = Object.fromEntries(Object.entries(template.Outputs).map(([k, v]) => [k, resolver.resolve(v.Value)]));
    assert.equal(out.WebSocketUrl, `wss://${fake.apiId}.execute-api.${fake.region}.amazonaws.com/prod`);
    assert.equal(out.StageName, 'prod');
    assert.equal(out.SiteUrl, `https://${fake.distributionDomain}`);
    assert.equal(out.UserPoolId, fake.userPoolId);
    assert.equal(out.UserPoolClientId, fake.userPoolClientId);
    assert.match(out.CognitoDomain, /^https:\/\/stratus-[0-9a-f]{12}\.auth\.us-east-1\.amazoncognito\.com$/);
    assert.equal(out.SiteBucketName, resolver.ref('SiteBucket'));
    assert.equal(out.DistributionId, fake.distributionId);
    assert.ok(out.ConnectionsTableName && out.MessagesTableName);
  });
});
