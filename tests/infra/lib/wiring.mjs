// How the template ties a route to its integration, function, role, log group and
// permission, read from the unresolved template (logical ids).

/** The logical id named by a `${Id}` or `${Id.Attr}` inside a Fn::Sub string. */
function subTargets(sub) {
  const text = typeof sub === 'string' ? sub : sub?.[0];
  return [...(text ?? '').matchAll(/\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}/g)].map((m) => m[1]);
}

function refTarget(value) {
  if (value?.Ref) {
    return value.Ref;
  }
  if (value?.['Fn::GetAtt']) {
    return value['Fn::GetAtt'][0];
  }
  return undefined;
}

/**
 * route key -> { route, integration, function, role, logGroup, permissions[], routeResponses[] }
 * (logical ids). Throws when a link is missing or ambiguous.
 */
export function routeWiring(resources) {
  const byType = (type) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const wiring = {};
  for (const [routeId, route] of byType('AWS::ApiGatewayV2::Route')) {
    const key = route.Properties.RouteKey;
    const integrationId = subTargets(route.Properties.Target?.['Fn::Sub'])[0];
    const integration = resources[integrationId];
    if (!integration || integration.Type !== 'AWS::ApiGatewayV2::Integration') {
      throw new Error(`route ${key}: Target does not name an integration`);
    }
    const functionIds = subTargets(integration.Properties.IntegrationUri?.['Fn::Sub']).filter(
      (id) => resources[id]?.Type === 'AWS::Serverless::Function' || resources[id]?.Type === 'AWS::Lambda::Function',
    );
    if (functionIds.length !== 1) {
      throw new Error(`integration ${integrationId}: IntegrationUri must name exactly one function`);
    }
    const functionId = functionIds[0];
    const fn = resources[functionId];
    const roleId = refTarget(fn.Properties.Role);
    const logGroupId = refTarget(fn.Properties.LoggingConfig?.LogGroup);
    const permissions = byType('AWS::Lambda::Permission')
      .filter(([, p]) => refTarget(p.Properties.FunctionName) === functionId)
      .map(([id]) => id);
    const routeResponses = byType('AWS::ApiGatewayV2::RouteResponse')
      .filter(([, rr]) => refTarget(rr.Properties.RouteId) === routeId)
      .map(([id]) => id);
    if (wiring[key]) {
      throw new Error(`route ${key} is defined twice`);
    }
    wiring[key] = {
      route: routeId,
      integration: integrationId,
      function: functionId,
      role: roleId,
      logGroup: logGroupId,
      permissions,
      routeResponses,
    };
  }
  return wiring;
}
