{{/* Chart name, overridable. */}}
{{- define "spiffebind.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name; the release name alone when it already contains the chart name. */}}
{{- define "spiffebind.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "spiffebind.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spiffebind.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "spiffebind.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spiffebind.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "spiffebind.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "spiffebind.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: a digest pins it; otherwise the tag, defaulting to appVersion. */}}
{{- define "spiffebind.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: \"latest\" is not allowed; pin a version (default: the chart's appVersion)" }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Enum guards: the schema already rejects these, but `helm template --skip-schema-validation`
does not read it, and a wrong switch would silently render the other branch.
*/}}
{{- define "spiffebind.validate" -}}
{{- $checks := list
  (list "socket.mode" .Values.socket.mode (list "hostPath" "csi"))
  (list "spire.socketMode" .Values.spire.socketMode (list "csi" "hostPath"))
  (list "state.mode" .Values.state.mode (list "hostPath" "emptyDir"))
  (list "updateStrategy.type" .Values.updateStrategy.type (list "RollingUpdate" "OnDelete")) }}
{{- range $checks }}
{{- if not (has (index . 1) (index . 2)) }}
{{- fail (printf "%s: %q is not one of %s" (index . 0) (toString (index . 1)) (join ", " (index . 2))) }}
{{- end }}
{{- end }}
{{- end }}

{{/* Where the container sees the API socket directory and the SPIRE agent socket. */}}
{{- define "spiffebind.socketDir" -}}/run/spiffebind/sockets{{- end }}
{{- define "spiffebind.spireDir" -}}/run/spire/agent-sockets{{- end }}
{{- define "spiffebind.stateDir" -}}/var/lib/spiffebind{{- end }}

{{/* config.yaml: what the daemon reads only at start (the policy reloads in place). */}}
{{- define "spiffebind.configFile" -}}
{{- toYaml .Values.config }}
{{- end }}

{{/* An alert's runbook_url annotation: (list baseUrl anchor); nothing without a base URL. */}}
{{- define "spiffebind.runbook" -}}
{{- with index . 0 }}
runbook_url: {{ printf "%s#%s" . (index $ 1) }}
{{- end }}
{{- end }}

{{/* The ext_authz Service's name (NOTES names it too). */}}
{{- define "spiffebind.extAuthzService" -}}
{{- printf "%s-ext-authz" (include "spiffebind.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
