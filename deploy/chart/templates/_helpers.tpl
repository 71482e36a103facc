{{/*
Names. The CronJob's name is at most 52 characters (its Jobs add 11), so every name is.
*/}}
{{- define "chartmirror.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "chartmirror.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "chartmirror.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chartmirror.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chartmirror.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "chartmirror.labels" -}}
helm.sh/chart: {{ include "chartmirror.chart" . }}
{{ include "chartmirror.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "chartmirror.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "chartmirror.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "chartmirror.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Fixed paths inside the pod (documented in README.md; the config refers to them).
*/}}
{{- define "chartmirror.configDir" -}}/etc/chartmirror/config{{- end }}
{{- define "chartmirror.configPath" -}}/etc/chartmirror/config/mirror.config.yaml{{- end }}
{{- define "chartmirror.dockerConfigDir" -}}/etc/chartmirror/docker{{- end }}
{{- define "chartmirror.stateDir" -}}/var/lib/chartmirror{{- end }}

{{- define "chartmirror.configMapName" -}}
{{- default (include "chartmirror.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{- define "chartmirror.claimName" -}}
{{- default (printf "%s-state" (include "chartmirror.fullname" .)) .Values.state.persistence.existingClaim }}
{{- end }}

{{/*
The --state argument: the registry-backed store, else the state directory (a PVC or an emptyDir).
The shards of a sharded run all get the same one: chartmirror keeps each shard's state apart
(shard-<i>-of-<n>/ in a directory, a tag per shard in a registry) and consults the others'.
*/}}
{{- define "chartmirror.stateArg" -}}
{{- if .Values.state.store }}
{{- .Values.state.store }}
{{- else }}
{{- include "chartmirror.stateDir" . }}
{{- end }}
{{- end }}

{{/*
Nothing to mirror until config or existingConfigMap is set.
*/}}
{{- define "chartmirror.hasConfig" -}}
{{- if or .Values.existingConfigMap (and (kindIs "string" .Values.config) (trim .Values.config)) (and (kindIs "map" .Values.config) (gt (len .Values.config) 0)) }}true{{- end }}
{{- end }}

{{- define "chartmirror.validate" -}}
{{- if and .Values.state.store .Values.state.persistence.enabled }}
{{- fail "state.store and state.persistence.enabled are exclusive: the state lives in a registry or on a volume, not both" }}
{{- end }}
{{- if and .Values.existingConfigMap (include "chartmirror.hasConfig" (dict "Values" (dict "existingConfigMap" "" "config" .Values.config))) }}
{{- fail "config and existingConfigMap are exclusive: give the mirror config in values or in your own ConfigMap" }}
{{- end }}
{{- range concat .Values.caBundles .Values.keyrings }}
{{- if eq (len (compact (list .secret .configMap))) 1 }}{{- else }}
{{- fail (printf "caBundles/keyrings %q: give exactly one of secret or configMap" .name) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A CA bundle or keyring volume: every key of the Secret or ConfigMap becomes a file.
*/}}
{{- define "chartmirror.fileVolume" -}}
{{- if .secret }}
secret:
  secretName: {{ .secret }}
{{- else }}
configMap:
  name: {{ .configMap }}
{{- end }}
{{- end }}
