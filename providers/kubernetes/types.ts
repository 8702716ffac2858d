/**
 * The parts of the core/v1 and networking.k8s.io/v1 objects envtorch reads
 * and writes. Every field here means the same in Kubernetes v1.20 and in
 * current releases.
 *
 * @module
 */

/** Object metadata. */
export interface ObjectMeta {
  /** Name. */
  name?: string;
  /** Prefix for a server-generated name. */
  generateName?: string;
  /** Namespace. */
  namespace?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Server-assigned id. */
  uid?: string;
  /** Version for watches. */
  resourceVersion?: string;
  /** Creation time, RFC 3339. */
  creationTimestamp?: string;
  /** Set once the object is being deleted. */
  deletionTimestamp?: string;
}

/** A list's metadata. */
export interface ListMeta {
  /** Version to watch from. */
  resourceVersion?: string;
}

/** A Linux capability set. */
export interface Capabilities {
  /** Added. */
  add?: string[];
  /** Dropped. */
  drop?: string[];
}

/** A seccomp profile. */
export interface SeccompProfile {
  /** `RuntimeDefault`, `Localhost` or `Unconfined`. */
  type: string;
  /** For `Localhost`. */
  localhostProfile?: string;
}

/** A container's security context. */
export interface SecurityContext {
  /** Run as this uid. */
  runAsUser?: number;
  /** Run as this gid. */
  runAsGroup?: number;
  /** Refuse to start as uid 0. */
  runAsNonRoot?: boolean;
  /** Mount the root filesystem read-only. */
  readOnlyRootFilesystem?: boolean;
  /** Allow setuid binaries and file capabilities to raise privileges. */
  allowPrivilegeEscalation?: boolean;
  /** Privileged mode. */
  privileged?: boolean;
  /** Capabilities. */
  capabilities?: Capabilities;
  /** Seccomp profile (a field since v1.19). */
  seccompProfile?: SeccompProfile;
  /** `Default` or `Unmasked`. */
  procMount?: string;
}

/** A Pod's security context. */
export interface PodSecurityContext {
  /** Default uid of the containers. */
  runAsUser?: number;
  /** Default gid. */
  runAsGroup?: number;
  /** Refuse uid 0. */
  runAsNonRoot?: boolean;
  /** Group owning the volumes. */
  fsGroup?: number;
  /** Seccomp profile of every container. */
  seccompProfile?: SeccompProfile;
  /** Extra groups. */
  supplementalGroups?: number[];
  /** Namespaced sysctls. */
  sysctls?: { name: string; value: string }[];
}

/** CPU and memory quantities, e.g. `{ cpu: "1", memory: "1Gi" }`. */
export type ResourceList = Record<string, string>;

/** An HTTP GET probe. */
export interface HTTPGetAction {
  /** Path. */
  path?: string;
  /** Port number or name. */
  port: number | string;
  /** Host (default: the Pod's IP). */
  host?: string;
  /** `HTTP` or `HTTPS`. */
  scheme?: string;
}

/** A probe. */
export interface Probe {
  /** HTTP GET. */
  httpGet?: HTTPGetAction;
  /** A command run in the container. */
  exec?: { command: string[] };
  /** Seconds before the first probe. */
  initialDelaySeconds?: number;
  /** Seconds between probes. */
  periodSeconds?: number;
  /** Seconds one probe may take. */
  timeoutSeconds?: number;
  /** Failures before not ready. */
  failureThreshold?: number;
  /** Successes before ready. */
  successThreshold?: number;
}

/** A volume mount. */
export interface VolumeMount {
  /** Volume name. */
  name: string;
  /** Path in the container. */
  mountPath: string;
  /** Read-only. */
  readOnly?: boolean;
}

/** A volume (only the kinds envtorch uses). */
export interface Volume {
  /** Name. */
  name: string;
  /** An emptyDir. */
  emptyDir?: { medium?: string; sizeLimit?: string };
  /** A host path (only the socket folder). */
  hostPath?: { path: string; type?: string };
  /** Any other kind, as the server reports it. */
  [kind: string]: unknown;
}

/** A container. */
export interface Container {
  /** Name. */
  name: string;
  /** Image. */
  image: string;
  /** `Always`, `IfNotPresent` or `Never`. */
  imagePullPolicy?: string;
  /** Entrypoint override. */
  command?: string[];
  /** Arguments override. */
  args?: string[];
  /** Environment. */
  env?: { name: string; value?: string }[];
  /** Ports. */
  ports?: { containerPort: number; name?: string; protocol?: string; hostPort?: number }[];
  /** Requests and limits. */
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** Volume mounts. */
  volumeMounts?: VolumeMount[];
  /** Readiness probe. */
  readinessProbe?: Probe;
  /** Security context. */
  securityContext?: SecurityContext;
  /** Where the termination message is written. */
  terminationMessagePolicy?: string;
  /** Keep stdin open. */
  stdin?: boolean;
  /** Allocate a TTY. */
  tty?: boolean;
}

/** A Pod's spec. */
export interface PodSpec {
  /** Containers. */
  containers: Container[];
  /** Init containers. */
  initContainers?: Container[];
  /** Volumes. */
  volumes?: Volume[];
  /** `Never` for envs: a crashed server is an error, not a restart. */
  restartPolicy?: string;
  /** Whether to mount the service account token. */
  automountServiceAccountToken?: boolean;
  /** Service account. */
  serviceAccountName?: string;
  /** Share the host's network namespace. */
  hostNetwork?: boolean;
  /** Share the host's pid namespace. */
  hostPID?: boolean;
  /** Share the host's IPC namespace. */
  hostIPC?: boolean;
  /** Pod security context. */
  securityContext?: PodSecurityContext;
  /** Seconds after start when the kubelet kills the Pod. */
  activeDeadlineSeconds?: number;
  /** Seconds between SIGTERM and SIGKILL. */
  terminationGracePeriodSeconds?: number;
  /** Whether to inject Service environment variables. */
  enableServiceLinks?: boolean;
  /** The node it runs on. */
  nodeName?: string;
  /** Share one pid namespace between containers. */
  shareProcessNamespace?: boolean;
  /** DNS policy. */
  dnsPolicy?: string;
}

/** A container's state. */
export interface ContainerState {
  /** Waiting. */
  waiting?: { reason?: string; message?: string };
  /** Running. */
  running?: { startedAt?: string };
  /** Terminated. */
  terminated?: { exitCode: number; signal?: number; reason?: string; message?: string };
}

/** A container's status. */
export interface ContainerStatus {
  /** Name. */
  name: string;
  /** Ready (its readiness probe passes). */
  ready: boolean;
  /** Restarts. */
  restartCount: number;
  /** State. */
  state?: ContainerState;
  /** Started (v1.16+). */
  started?: boolean;
}

/** A Pod's status. */
export interface PodStatus {
  /** `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`. */
  phase?: string;
  /** Conditions (`PodScheduled`, `Initialized`, `ContainersReady`, `Ready`). */
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
  /** Why it failed. */
  reason?: string;
  /** Message. */
  message?: string;
  /** The Pod's IP (in-cluster reach only). */
  podIP?: string;
  /** The node's IP. */
  hostIP?: string;
  /** Container statuses. */
  containerStatuses?: ContainerStatus[];
}

/** A Pod. */
export interface Pod {
  /** `v1`. */
  apiVersion?: string;
  /** `Pod`. */
  kind?: string;
  /** Metadata. */
  metadata: ObjectMeta;
  /** Spec. */
  spec: PodSpec;
  /** Status. */
  status?: PodStatus;
}

/** A list of Pods. */
export interface PodList {
  /** Metadata. */
  metadata: ListMeta;
  /** The Pods. */
  items: Pod[];
}

/** A NetworkPolicy (networking.k8s.io/v1). */
export interface NetworkPolicy {
  /** `networking.k8s.io/v1`. */
  apiVersion?: string;
  /** `NetworkPolicy`. */
  kind?: string;
  /** Metadata. */
  metadata: ObjectMeta;
  /** Spec. */
  spec: {
    /** The Pods it selects. */
    podSelector: { matchLabels?: Record<string, string> };
    /** `Ingress`, `Egress`. */
    policyTypes?: string[];
    /** Allowed ingress (empty: none). */
    ingress?: unknown[];
    /** Allowed egress (empty: none). */
    egress?: unknown[];
  };
}

/** A list of NetworkPolicies. */
export interface NetworkPolicyList {
  /** Metadata. */
  metadata: ListMeta;
  /** The policies. */
  items: NetworkPolicy[];
}

/** A Service (core/v1), for in-cluster reach by name. */
export interface Service {
  /** `v1`. */
  apiVersion?: string;
  /** `Service`. */
  kind?: string;
  /** Metadata. */
  metadata: ObjectMeta;
  /** Spec. */
  spec: {
    /** Pods it routes to. */
    selector?: Record<string, string>;
    /** Ports. */
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
    /** `ClusterIP`. */
    type?: string;
  };
}
