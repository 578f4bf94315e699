{{/*
Chart name, truncated to 63 characters (DNS label).
*/}}
{{- define "blo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. If the release name already contains the chart name it is used as is.
*/}}
{{- define "blo.fullname" -}}
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

{{- define "blo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of a release (Deployment selectors are immutable).
*/}}
{{- define "blo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "blo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "blo.labels" -}}
helm.sh/chart: {{ include "blo.chart" . }}
{{ include "blo.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: bedrock-logging-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "blo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "blo.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image: repository@digest when a digest is set, else repository:tag (tag defaults to appVersion).
*/}}
{{- define "blo.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/*
Controller pods: replicaCount (Helm's convention), or its deprecated alias replicas when that is
set. A replicaCount left at 1 cannot be told from the default, so only a replicaCount other than
1 that disagrees with replicas is an error.
*/}}
{{- define "blo.replicas" -}}
{{- if kindIs "invalid" .Values.replicas }}
{{- int .Values.replicaCount }}
{{- else }}
{{- if and (ne (int .Values.replicaCount) 1) (ne (int .Values.replicaCount) (int .Values.replicas)) }}
{{- fail (printf "replicaCount (%d) and its deprecated alias replicas (%d) disagree: set only replicaCount" (int .Values.replicaCount) (int .Values.replicas)) }}
{{- end }}
{{- int .Values.replicas }}
{{- end }}
{{- end }}

{{/*
"true" when leader election is on: forced by value or implied by more than one replica.
*/}}
{{- define "blo.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int (include "blo.replicas" .)) 1) }}true{{ end }}
{{- end }}

{{- define "blo.leaseName" -}}
{{- default (include "blo.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
Metrics Service name: Service names are DNS-1035 labels (63 characters at most).
*/}}
{{- define "blo.metricsServiceName" -}}
{{- printf "%s-metrics" (include "blo.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
runbook_url of an alert: docs/alerts.md has one section per alert, whose anchor is its name in
lower case.
*/}}
{{- define "blo.runbookUrl" -}}
{{- printf "%s#%s" (trimSuffix "/" .root.Values.prometheusRule.runbookBaseUrl) (lower .alert) }}
{{- end }}
