{{- define "chorus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chorus.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "chorus.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "chorus.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "chorus.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "chorus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "api") */}}
{{- define "chorus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chorus.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "chorus.secretName" -}}
{{- .Values.secret.existingSecret | default (include "chorus.fullname" .) }}
{{- end }}

{{- define "chorus.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The ConfigMap's data: the listen addresses from the ports, then config. */}}
{{- define "chorus.config" -}}
{{- $c := dict "CHORUS_ADDR" (printf "0.0.0.0:%v" .Values.api.port) "CHORUS_WORKER_ADDR" (printf "0.0.0.0:%v" .Values.worker.port) }}
{{- range $k, $v := .Values.config }}
{{- if ne (toString $v) "" }}
{{- $_ := set $c $k (toString $v) }}
{{- end }}
{{- end }}
{{- range $k, $v := $c }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end }}
