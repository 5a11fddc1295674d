#!/usr/bin/env bash
# The token command for the parity suite against a deployed stage (docs/parity.md).
#
#   STRATUS_TOKEN_COMMAND=tests/integration/parity/cognito-token.sh   # the suite appends a user name
#   tests/integration/parity/cognito-token.sh alice-1a2b3c4d          # prints an id token
#   tests/integration/parity/cognito-token.sh --cleanup               # deletes every parity test user
#
# For each name the suite asks for, a test user parity+<name>@<domain> is created in the
# stage's user pool if it does not exist yet (admin-created, no invitation, e-mail verified,
# the `name` attribute = <name>, which the stage shows as the display name), given a fresh
# random permanent password, and signed in with ADMIN_USER_PASSWORD_AUTH. Only the token is
# printed (stdout); the suite reads userId (`sub`) and name from it. Distinct names are distinct
# users: the suite's checks need several.
#
# Needs: the stack deployed with --allow-admin-password-auth (docs/deploy.md, "Test users"),
# the AWS CLI, and credentials allowed cognito-idp:AdminCreateUser, AdminSetUserPassword,
# AdminInitiateAuth (and ListUsers, AdminDeleteUser for --cleanup) on the pool.
#
# Environment:
#   STRATUS_COGNITO_USER_POOL_ID   the stack output UserPoolId (required)
#   STRATUS_COGNITO_CLIENT_ID      the stack output UserPoolClientId (required)
#   STRATUS_COGNITO_TOKEN_USE      id (default) or access, as the stack's CognitoTokenUse
#   STRATUS_PARITY_EMAIL_DOMAIN    domain of the test users' addresses (default example.com)
#   AWS_PROFILE, AWS_REGION        as usual; the region defaults to the pool's
set -euo pipefail

die() {
    printf 'cognito-token: %s\n' "$*" >&2
    exit 2
}

pool="${STRATUS_COGNITO_USER_POOL_ID:-}"
client="${STRATUS_COGNITO_CLIENT_ID:-}"
[[ -n "${pool}" ]] || die "STRATUS_COGNITO_USER_POOL_ID is not set (stack output UserPoolId)"
[[ "${pool}" == *_* ]] || die "STRATUS_COGNITO_USER_POOL_ID must look like <region>_<id>, got '${pool}'"
region="${AWS_REGION:-${pool%%_*}}"
domain="${STRATUS_PARITY_EMAIL_DOMAIN:-example.com}"
command -v aws >/dev/null 2>&1 || die "the AWS CLI (aws) is not on PATH"

cognito() {
    aws cognito-idp "$@" --user-pool-id "${pool}" --region "${region}"
}

if [[ $# -eq 1 && "$1" == "--cleanup" ]]; then
    # Usernames are subs in an e-mail pool; list them by address prefix.
    users=$(cognito list-users --filter 'email ^= "parity+"' --query 'Users[].Username' --output text)
    count=0
    for user in ${users}; do
        [[ "${user}" == "None" ]] && continue
        cognito admin-delete-user --username "${user}"
        count=$((count + 1))
    done
    printf 'cognito-token: deleted %d parity test user(s) from %s\n' "${count}" "${pool}" >&2
    exit 0
fi

[[ $# -ge 1 ]] || die "usage: cognito-token.sh <user name> | --cleanup"
name="${*: -1}"
[[ -n "${client}" ]] || die "STRATUS_COGNITO_CLIENT_ID is not set (stack output UserPoolClientId)"
# The suite's names are <prefix>-<8 hex digits>; keep the address and the display name plain.
[[ "${name}" =~ ^[A-Za-z0-9._-]{1,32}$ ]] || die "user name must be 1-32 of [A-Za-z0-9._-], got '${name}'"
case "${STRATUS_COGNITO_TOKEN_USE:-id}" in
id) query=AuthenticationResult.IdToken ;;
access) query=AuthenticationResult.AccessToken ;;
*) die "STRATUS_COGNITO_TOKEN_USE must be id or access" ;;
esac

email="parity+${name}@${domain}"
# Upper and lower case letters and digits, 36 characters: the template's password policy.
password="Pa1$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

# Create the user unless it exists (a name asked for twice is the same user).
if ! created=$(cognito admin-create-user --username "${email}" --message-action SUPPRESS \
    --user-attributes Name=email,Value="${email}" Name=email_verified,Value=true Name=name,Value="${name}" \
    --output json 2>&1 >/dev/null); then
    [[ "${created}" == *UsernameExistsException* ]] || die "admin-create-user ${email}: ${created}"
fi
cognito admin-set-user-password --username "${email}" --password "${password}" --permanent >/dev/null
token=$(aws cognito-idp admin-initiate-auth --user-pool-id "${pool}" --client-id "${client}" --region "${region}" \
    --auth-flow ADMIN_USER_PASSWORD_AUTH \
    --auth-parameters "{\"USERNAME\":\"${email}\",\"PASSWORD\":\"${password}\"}" \
    --query "${query}" --output text)
[[ -n "${token}" && "${token}" != "None" ]] || die "admin-initiate-auth gave no ${query} for ${email} (a challenge? MFA?)"
printf '%s\n' "${token}"
