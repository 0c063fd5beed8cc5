#!/usr/bin/env bash
# Grants one identity's Microsoft Entra permissions to its app registration, then admin consent.
# The logic below is written by hand; the tables between BEGIN GENERATED and END GENERATED come from
# `defender-functions grant-script` (make grant-script): the permission manifest (Endpoint::permissions,
# from contract/defender-api/), each function's endpoints (like docs/permissions.md) and the cloud table
# (shared/src/cloud.rs). A test fails when they differ from what the CLI prints.
#
# Usage: scripts/grant-permissions.sh APP_ID IDENTITY [--cloud CLOUD] [--delegated] [--no-consent]
#   APP_ID        the application (client) id of the app registration
#   IDENTITY      reader | responder (the functions each one serves: IDENTITIES below)
#                 Split identities (docs/security.md): the reader and the responder are two app
#                 registrations (template ReaderClientId, ResponderClientId); never grant both to one.
#   --cloud       commercial | gcc | gcc-high | dod (default: $DEFENDER_CLOUD, else commercial); the
#                 Azure CLI's active cloud must be that one (`az cloud show`), or nothing is done
#   --delegated   delegated permissions (user context, device-code login) instead of application ones
#   --no-consent  add the permissions only; a Global or Privileged Role Administrator consents later
#                 (the script prints the admin-consent URL on the cloud's own sign-in host)
# Needs the Azure CLI, signed in (`az login`) as someone who may edit the app (and consent).
set -euo pipefail

# BEGIN GENERATED
# identity, the functions it serves
IDENTITIES='
reader webhook-enrich scheduled-export
responder chatops
'
# cloud, Entra authority, Graph resource (no trailing slash), how to point the Azure CLI at it
CLOUDS='
commercial https://login.microsoftonline.com https://graph.microsoft.com az cloud set --name AzureCloud && az login
gcc https://login.microsoftonline.com https://graph.microsoft.com az cloud set --name AzureCloud && az login
gcc-high https://login.microsoftonline.us https://graph.microsoft.us az cloud set --name AzureUSGovernment && az login
dod https://login.microsoftonline.us https://dod-graph.microsoft.us az cloud register --name AzureUSGovernmentDoD --endpoint-resource-manager https://management.usgovcloudapi.net/ --endpoint-microsoft-graph-resource-id https://dod-graph.microsoft.us/ && az cloud set --name AzureUSGovernmentDoD && az login (Azure CLI 2.75 or later)
'
MDE=fc780465-2017-40d4-a0c5-307022471b92  # WindowsDefenderATP (Defender for Endpoint)
XDR=8ee8fdad-f234-4243-8f3b-15c294843740  # Microsoft Threat Protection (Defender XDR)
GRAPH=00000003-0000-0000-c000-000000000000  # Microsoft Graph
# function, kind, then API:permission for each of a minimal set
GRANTS='
webhook-enrich application MDE:Alert.ReadWrite.All MDE:File.Read.All MDE:Ip.Read.All MDE:Machine.ReadWrite.All MDE:URL.Read.All MDE:User.Read.All XDR:Incident.Read.All GRAPH:ThreatHunting.Read.All
webhook-enrich delegated MDE:Alert.ReadWrite MDE:File.Read.All MDE:Ip.Read.All MDE:Machine.ReadWrite MDE:URL.Read.All MDE:User.Read.All XDR:Incident.Read GRAPH:ThreatHunting.Read.All
chatops application MDE:Alert.ReadWrite.All MDE:Machine.CollectForensics MDE:Machine.Isolate MDE:Machine.Read.All MDE:Machine.RestrictExecution MDE:Machine.Scan MDE:Ti.ReadWrite XDR:Incident.ReadWrite.All GRAPH:ThreatHunting.Read.All
chatops delegated MDE:Alert.ReadWrite MDE:Machine.CollectForensics MDE:Machine.Isolate MDE:Machine.Read MDE:Machine.RestrictExecution MDE:Machine.Scan MDE:Ti.ReadWrite XDR:Incident.ReadWrite GRAPH:ThreatHunting.Read.All
scheduled-export application MDE:Alert.Read.All XDR:Incident.Read.All GRAPH:SecurityAlert.Read.All GRAPH:SecurityIncident.Read.All GRAPH:ThreatHunting.Read.All
scheduled-export delegated MDE:Alert.Read XDR:Incident.Read GRAPH:SecurityAlert.Read.All GRAPH:SecurityIncident.Read.All GRAPH:ThreatHunting.Read.All
'
# END GENERATED

USAGE="usage: $0 APP_ID IDENTITY [--cloud commercial|gcc|gcc-high|dod] [--delegated] [--no-consent]"
APP_ID="${1:?$USAGE}"
IDENTITY="${2:?$USAGE}"
shift 2
FUNCTIONS="" KNOWN=""
while read -r id functions; do
  [[ -n "$id" ]] || continue
  KNOWN="${KNOWN:+$KNOWN or }$id"
  if [[ "$id" == "$IDENTITY" ]]; then FUNCTIONS="$functions"; fi
done <<< "$IDENTITIES"
if [[ -z "$FUNCTIONS" ]]; then
  echo "unknown identity: $IDENTITY (expected $KNOWN)" >&2
  exit 2
fi
KIND=application
CONSENT=1
CLOUD="${DEFENDER_CLOUD:-commercial}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --delegated) KIND=delegated ;;
    --no-consent) CONSENT=0 ;;
    --cloud) CLOUD="${2:?--cloud needs a value}"; shift ;;
    --cloud=*) CLOUD="${1#--cloud=}" ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

# The cloud's Entra authority and Graph, and how to point the Azure CLI at it.
CLOUD_LOGIN="" CLOUD_GRAPH="" HOW=""
while read -r name login graph how; do
  if [[ -n "$name" && "$name" == "$CLOUD" ]]; then CLOUD_LOGIN="$login" CLOUD_GRAPH="$graph" HOW="$how"; fi
done <<< "$CLOUDS"
if [[ -z "$CLOUD_LOGIN" ]]; then
  echo "unknown cloud: $CLOUD (expected commercial, gcc, gcc-high or dod)" >&2
  exit 2
fi
# az signs in, adds permissions and consents through its active cloud: it must be this one, or the
# permissions would be looked up, added and consented in another directory (or fail half-way).
AZ_LOGIN="$(az cloud show --query endpoints.activeDirectory -o tsv)"
AZ_GRAPH="$(az cloud show --query endpoints.microsoftGraphResourceId -o tsv)"
if [[ "${AZ_LOGIN%/}" != "$CLOUD_LOGIN" || "${AZ_GRAPH%/}" != "$CLOUD_GRAPH" ]]; then
  echo "error: the Azure CLI's active cloud signs in at ${AZ_LOGIN:-?} and calls Graph at ${AZ_GRAPH:-?};" >&2
  echo "       $CLOUD needs $CLOUD_LOGIN and $CLOUD_GRAPH. Point the CLI at it first:" >&2
  echo "       $HOW" >&2
  exit 1
fi
TENANT="$(az account show --query tenantId -o tsv)"
CONSENT_URL="$CLOUD_LOGIN/$TENANT/adminconsent?client_id=$APP_ID"

declare -A DONE=()
# grant API_APP_ID Role|Scope PERMISSION: look the permission's id up on the API's service principal, add it.
grant() {
  local api="$1" type="$2" perm="$3" field id
  [[ -n "${DONE[$api/$type/$perm]:-}" ]] && return 0
  if [[ "$type" == Role ]]; then field=appRoles; else field=oauth2PermissionScopes; fi
  id="$(az ad sp show --id "$api" --query "$field[?value=='$perm'].id | [0]" -o tsv)"
  if [[ -z "$id" ]]; then
    echo "error: $perm is not a $type of API $api in this tenant" >&2
    exit 1
  fi
  echo "adding $perm ($type) on $api"
  az ad app permission add --id "$APP_ID" --api "$api" --api-permissions "$id=$type" --only-show-errors
  DONE[$api/$type/$perm]=1
}

if [[ "$KIND" == application ]]; then TYPE=Role; else TYPE=Scope; fi
while read -r -u 3 function kind grants; do
  if [[ -n "$function" && "$kind" == "$KIND" && " $FUNCTIONS " == *" $function "* ]]; then
    for api_perm in $grants; do
      api="${api_perm%%:*}"
      grant "${!api}" "$TYPE" "${api_perm#*:}"
    done
  fi
done 3<<< "$GRANTS"

if [[ "$CONSENT" == 1 ]]; then
  echo "granting admin consent for $APP_ID ($CLOUD)"
  if ! az ad app permission admin-consent --id "$APP_ID" --only-show-errors; then
    echo "admin consent failed; an administrator of tenant $TENANT can consent at: $CONSENT_URL" >&2
    exit 1
  fi
else
  echo "permissions added; admin consent still needed: az ad app permission admin-consent --id $APP_ID"
  echo "or, by an administrator of tenant $TENANT in a browser: $CONSENT_URL"
fi
