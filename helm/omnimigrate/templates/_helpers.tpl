{{- define "omnimigrate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "omnimigrate.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "omnimigrate.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "omnimigrate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "omnimigrate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "omnimigrate.secretName" -}}
{{- default (include "omnimigrate.fullname" .) .Values.secret.existingSecret -}}
{{- end -}}

{{- define "omnimigrate.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* The pod-level security context every workload shares: non-root, no privilege. */}}
{{- define "omnimigrate.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "omnimigrate.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The container body shared by the CronJob, the restore Job and the serve Deployment:
     include "omnimigrate.container" (dict "root" $ "events" true) adds the events token,
     which only serve needs. */}}
{{- define "omnimigrate.container" -}}
{{- $root := .root -}}
image: {{ include "omnimigrate.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
securityContext:
  {{- include "omnimigrate.containerSecurity" $root | nindent 2 }}
env:
  - name: OMNIMIGRATE_CONFIG
    value: /etc/omnimigrate/config.yaml
  {{- if and .events (include "omnimigrate.eventsSecretName" $root) }}
  - name: OMNIMIGRATE_EVENTS_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ include "omnimigrate.eventsSecretName" $root }}
        key: {{ $root.Values.serve.events.existingSecretKey }}
  {{- end }}
envFrom:
  - secretRef:
      name: {{ include "omnimigrate.secretName" $root }}
resources:
  {{- toYaml $root.Values.resources | nindent 2 }}
volumeMounts:
  - name: config
    mountPath: /etc/omnimigrate
    readOnly: true
  - name: cache
    mountPath: /var/cache/omnimigrate
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* The Secret holding the bearer token of POST /events; empty when events are off. */}}
{{- define "omnimigrate.eventsSecretName" -}}
{{- if .Values.serve.events.existingSecret -}}
{{- .Values.serve.events.existingSecret -}}
{{- else if .Values.serve.events.token -}}
{{- include "omnimigrate.fullname" . }}-events
{{- end -}}
{{- end -}}

{{- define "omnimigrate.volumes" -}}
- name: config
  configMap:
    name: {{ include "omnimigrate.fullname" . }}
- name: cache
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "omnimigrate.podExtras" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A CronJob of one command, shared by the backup and the drill:
     include "omnimigrate.cronjob" (dict "root" $ "component" "backup" "job" .Values.backup
     "run" <the container's command and args, as YAML>). */}}
{{- define "omnimigrate.cronjob" -}}
{{- $root := .root -}}
{{- $job := .job -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "omnimigrate.fullname" $root }}-{{ .component }}
  labels:
    {{- include "omnimigrate.labels" $root | nindent 4 }}
spec:
  schedule: {{ $job.schedule | quote }}
  {{- with $job.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: {{ $job.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $job.failedJobsHistoryLimit }}
  jobTemplate:
    spec:
      backoffLimit: {{ $job.backoffLimit }}
      activeDeadlineSeconds: {{ $job.activeDeadlineSeconds }}
      template:
        metadata:
          labels:
            {{- include "omnimigrate.selector" $root | nindent 12 }}
            app.kubernetes.io/component: {{ .component }}
          {{- with $root.Values.podAnnotations }}
          annotations:
            {{- toYaml . | nindent 12 }}
          {{- end }}
        spec:
          restartPolicy: Never
          serviceAccountName: {{ include "omnimigrate.serviceAccountName" $root }}
          securityContext:
            {{- include "omnimigrate.podSecurity" $root | nindent 12 }}
          containers:
            - name: {{ .component }}
              {{- include "omnimigrate.container" (dict "root" $root "events" false) | nindent 14 }}
              {{- .run | nindent 14 }}
          volumes:
            {{- include "omnimigrate.volumes" $root | nindent 12 }}
          {{- include "omnimigrate.podExtras" $root | nindent 10 }}
{{- end -}}
