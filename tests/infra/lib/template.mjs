// Loads infra/template.yaml and resolves it offline: CloudFormation's short-form tags,
// SAM Globals, Conditions, and Ref / Fn::GetAtt / Fn::Sub / ... against a fixed fake
// account, region and set of physical ids. Only what the template uses is modelled; an
// intrinsic or attribute it does not know throws, so a new construct fails loudly.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parse } from 'yaml';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// STRATUS_INFRA_TEMPLATE points the proofs at another file (tests/infra/mutations.test.mjs).
export const templatePath = process.env.STRATUS_INFRA_TEMPLATE ?? path.join(repoRoot, 'infra/template.yaml');

export const fake = {
  partition: 'aws',
  region: 'us-east-1',
  account: '111122223333',
  urlSuffix: 'amazonaws.com',
  stackName: 'stratus-test',
  stackId:
    'arn:aws:cloudformation:us-east-1:111122223333:stack/stratus-test/1c2fa620-982a-11e3-aff7-50e2416294e0',
  apiId: 'a1b2c3d4e5',
  distributionId: 'E1ABCDEFGHIJKL',
  distributionDomain: 'd111111abcdef8.cloudfront.net',
  userPoolId: 'us-east-1_AbCdEfGhI',
  userPoolClientId: '1example23456789abcdefghij',
};

// --- YAML ------------------------------------------------------------------------

const intrinsics = {
  '!Ref': 'Ref',
  '!Condition': 'Condition',
  '!GetAtt': 'Fn::GetAtt',
  '!Sub': 'Fn::Sub',
  '!If': 'Fn::If',
  '!Equals': 'Fn::Equals',
  '!Not': 'Fn::Not',
  '!And': 'Fn::And',
  '!Or': 'Fn::Or',
  '!Join': 'Fn::Join',
  '!Select': 'Fn::Select',
  '!Split': 'Fn::Split',
  '!FindInMap': 'Fn::FindInMap',
  '!ImportValue': 'Fn::ImportValue',
  '!Base64': 'Fn::Base64',
  '!GetAZs': 'Fn::GetAZs',
  '!Cidr': 'Fn::Cidr',
};

function scalarValue(tag, name, text) {
  if (tag === '!GetAtt') {
    const dot = text.indexOf('.');
    return { [name]: [text.slice(0, dot), text.slice(dot + 1)] };
  }
  return { [name]: text };
}

const customTags = Object.entries(intrinsics).flatMap(([tag, name]) => [
  { tag, resolve: (text) => scalarValue(tag, name, text) },
  { tag, collection: 'seq', resolve: (seq) => ({ [name]: seq.toJSON() }) },
  { tag, collection: 'map', resolve: (map) => ({ [name]: map.toJSON() }) },
]);

/** The template as plain JSON (long-form intrinsics). YAML 1.1, as CloudFormation reads it. */
export function loadTemplate(text = readFileSync(templatePath, 'utf8')) {
  return parse(text, { customTags, version: '1.1', uniqueKeys: true });
}

// --- resolution ------------------------------------------------------------------

const NO_VALUE = Symbol('AWS::NoValue');

/**
 * A resolver for one set of parameter values. `resolve(value)` turns intrinsics into
 * concrete values; resources whose Condition is false are dropped by `resources()`.
 */
export class Resolver {
  constructor(template, parameterOverrides = {}) {
    this.template = template;
    this.parameters = {};
    for (const [name, spec] of Object.entries(template.Parameters ?? {})) {
      const value = name in parameterOverrides ? parameterOverrides[name] : spec.Default;
      if (value === undefined) {
        throw new Error(`parameter ${name} has no default and no override`);
      }
      if (spec.AllowedValues && !spec.AllowedValues.map(String).includes(String(value))) {
        throw new Error(`parameter ${name}=${value} is not one of ${spec.AllowedValues}`);
      }
      this.parameters[name] = spec.Type === 'Number' ? Number(value) : String(value);
    }
    for (const name of Object.keys(parameterOverrides)) {
      if (!(name in this.parameters)) {
        throw new Error(`unknown parameter ${name}`);
      }
    }
    this.conditionCache = new Map();
  }

  condition(name) {
    if (!this.conditionCache.has(name)) {
      const spec = this.template.Conditions?.[name];
      if (spec === undefined) {
        throw new Error(`unknown condition ${name}`);
      }
      this.conditionCache.set(name, Boolean(this.resolve(spec)));
    }
    return this.conditionCache.get(name);
  }

  /** Logical id -> resource, without the ones whose Condition is false. */
  resources() {
    return Object.fromEntries(
      Object.entries(this.template.Resources).filter(
        ([, r]) => r.Condition === undefined || this.condition(r.Condition),
      ),
    );
  }

  /** Resources of one type, with SAM Globals merged into AWS::Serverless::Function. */
  resourcesOfType(type) {
    return Object.entries(this.resources())
      .filter(([, r]) => r.Type === type)
      .map(([id, r]) => [id, type === 'AWS::Serverless::Function' ? this.withGlobals(r) : r]);
  }

  withGlobals(resource) {
    const globals = this.template.Globals?.Function ?? {};
    const merged = { ...globals, ...resource.Properties };
    if (globals.Environment && resource.Properties?.Environment) {
      merged.Environment = {
        Variables: { ...globals.Environment.Variables, ...resource.Properties.Environment.Variables },
      };
    }
    return { ...resource, Properties: merged };
  }

  ref(name) {
    switch (name) {
      case 'AWS::Partition':
        return fake.partition;
      case 'AWS::Region':
        return fake.region;
      case 'AWS::AccountId':
        return fake.account;
      case 'AWS::URLSuffix':
        return fake.urlSuffix;
      case 'AWS::StackName':
        return fake.stackName;
      case 'AWS::StackId':
        return fake.stackId;
      case 'AWS::NoValue':
        return NO_VALUE;
    }
    if (name in this.parameters) {
      return this.parameters[name];
    }
    const resource = this.template.Resources[name];
    if (!resource) {
      throw new Error(`Ref to unknown ${name}`);
    }
    if (resource.Condition !== undefined && !this.condition(resource.Condition)) {
      throw new Error(`Ref to ${name}, which this parameter set does not create`);
    }
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::ApiGatewayV2::Api':
        return fake.apiId;
      case 'AWS::CloudFront::Distribution':
        return fake.distributionId;
      case 'AWS::Cognito::UserPool':
        return fake.userPoolId;
      case 'AWS::Cognito::UserPoolClient':
        return fake.userPoolClientId;
      case 'AWS::Cognito::UserPoolDomain':
        return this.resolve(props.Domain);
      case 'AWS::Logs::LogGroup':
        return this.resolve(props.LogGroupName);
      case 'AWS::DynamoDB::Table':
        return props.TableName ? this.resolve(props.TableName) : `${fake.stackName}-${name}-1A2B3C4D5E6F`;
      case 'AWS::S3::Bucket':
        return `${fake.stackName}-${name.toLowerCase()}-1a2b3c4d5e6f`;
      default:
        // Functions, roles, routes, integrations, policies: a stable fake physical id.
        return `${fake.stackName}-${name}-FAKE`;
    }
  }

  getAtt(name, attribute) {
    const resource = this.template.Resources[name];
    if (!resource) {
      throw new Error(`GetAtt on unknown ${name}`);
    }
    const { partition, region, account } = fake;
    const key = `${resource.Type}.${attribute}`;
    switch (key) {
      case 'AWS::DynamoDB::Table.Arn':
        return `arn:${partition}:dynamodb:${region}:${account}:table/${this.ref(name)}`;
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:${partition}:logs:${region}:${account}:log-group:${this.ref(name)}:*`;
      case 'AWS::Serverless::Function.Arn':
      case 'AWS::Lambda::Function.Arn':
        return `arn:${partition}:lambda:${region}:${account}:function:${this.ref(name)}`;
      case 'AWS::IAM::Role.Arn':
        return `arn:${partition}:iam::${account}:role/${this.ref(name)}`;
      case 'AWS::S3::Bucket.Arn':
        return `arn:${partition}:s3:::${this.ref(name)}`;
      case 'AWS::S3::Bucket.RegionalDomainName':
        return `${this.ref(name)}.s3.${region}.amazonaws.com`;
      case 'AWS::CloudFront::Distribution.DomainName':
        return fake.distributionDomain;
      case 'AWS::CloudFront::OriginAccessControl.Id':
        return 'E2OACEXAMPLE1';
      default:
        throw new Error(`GetAtt ${name}.${attribute} (${resource.Type}) is not modelled`);
    }
  }

  sub(text, variables = {}) {
    return text.replace(/\$\{([^}]*)\}/g, (whole, inner) => {
      if (inner.startsWith('!')) {
        return '${' + inner.slice(1) + '}';
      }
      if (inner in variables) {
        return String(variables[inner]);
      }
      const dot = inner.indexOf('.');
      if (dot > 0 && !inner.startsWith('AWS::')) {
        return String(this.getAtt(inner.slice(0, dot), inner.slice(dot + 1)));
      }
      return String(this.ref(inner));
    });
  }

  resolve(value) {
    if (Array.isArray(value)) {
      return value.map((v) => this.resolve(v)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') {
      return value;
    }
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || keys[0].startsWith('Fn::'))) {
      return this.intrinsic(keys[0], value[keys[0]]);
    }
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = this.resolve(v);
      if (resolved !== NO_VALUE) {
        out[k] = resolved;
      }
    }
    return out;
  }

  intrinsic(name, arg) {
    switch (name) {
      case 'Ref':
        return this.ref(arg);
      case 'Condition':
        return this.condition(arg);
      case 'Fn::GetAtt': {
        const [resource, attribute] = Array.isArray(arg) ? arg : arg.split('.');
        return this.getAtt(resource, attribute);
      }
      case 'Fn::Sub': {
        if (typeof arg === 'string') {
          return this.sub(arg);
        }
        const [text, variables] = arg;
        return this.sub(text, this.resolve(variables ?? {}));
      }
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = arg;
        return this.resolve(this.condition(condition) ? whenTrue : whenFalse);
      }
      case 'Fn::Equals': {
        const [a, b] = this.resolve(arg);
        return String(a) === String(b);
      }
      case 'Fn::Not':
        return !this.resolve(arg[0]);
      case 'Fn::And':
        return arg.every((c) => this.resolve(c));
      case 'Fn::Or':
        return arg.some((c) => this.resolve(c));
      case 'Fn::Join': {
        const [separator, list] = arg;
        return this.resolve(list).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = this.resolve(arg);
        return list[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, text] = this.resolve(arg);
        return text.split(separator);
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = this.resolve(arg);
        return this.template.Mappings[map][top][second];
      }
      case 'Fn::Base64':
        return Buffer.from(String(this.resolve(arg))).toString('base64');
      case 'Fn::GetAZs':
        return [`${fake.region}a`, `${fake.region}b`, `${fake.region}c`];
      default:
        throw new Error(`intrinsic ${name} is not modelled`);
    }
  }
}

/** Every intrinsic-function key used anywhere in a JSON value (for "nothing unmodelled"). */
export function intrinsicNames(value, found = new Set()) {
  if (Array.isArray(value)) {
    value.forEach((v) => intrinsicNames(v, found));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' || k.startsWith('Fn::')) {
        found.add(k);
      }
      intrinsicNames(v, found);
    }
  }
  return found;
}
