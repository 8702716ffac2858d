/**
 * The Docker provider: a typed Engine API client, the hardened
 * {@link LocalDockerProvider}, the reaper and the image builder.
 *
 * ```ts ignore
 * import { LocalDockerProvider } from "./mod.ts";
 * import { EchoEnv } from "../../envs/echo/client.ts";
 *
 * await using docker = new LocalDockerProvider();
 * await using server = await docker.start("echo-env:latest");
 * await using env = new EchoEnv({ baseUrl: server.baseUrl });
 * await env.reset();
 * const result = await env.step({ message: "Hello, World!" });
 * console.log(result.reward); // 1.3
 * ```
 *
 * @module
 */
export {
  compareApiVersions,
  DEFAULT_DOCKER_SOCKET,
  DockerEngine,
  type DockerEngineOptions,
  type EngineRequestOptions,
  MAX_API_VERSION,
  MIN_API_VERSION,
  resolveDockerSocket,
} from "./engine.ts";
export {
  ContainerStartError,
  DockerConflictError,
  DockerError,
  DockerNotFoundError,
  EngineUnreachableError,
  HardeningError,
  ImageBuildError,
  ImageNotFoundError,
} from "./engine_errors.ts";
export type * from "./engine_types.ts";
export { ContainerApi } from "./containers.ts";
export { ImageApi } from "./images.ts";
export { ExecApi, type ExecResult } from "./exec.ts";
export { decodeLogFrames, framesToText, type LogFrame, LogFrameDecoder } from "./log_frames.ts";
export { JsonProgressDecoder, type ProgressMessage, progressText } from "./json_progress.ts";
export { path } from "./path.ts";
export {
  type AllowedCapability,
  checkHostConfig,
  checkMounts,
  DEFAULT_IPC_LIMITS,
  hardenedHostConfig,
  hardeningFromLabels,
  type HardeningOptions,
  IMAGE_HARDENING_LABELS,
  type ImageLimitCeilings,
  type IpcLimits,
} from "./hardening.ts";
export { REMOVED_SYSCALLS, SECCOMP_PROFILE, SECCOMP_SECURITY_OPT } from "./seccomp.ts";
export { TcpForwarder, type TcpForwarderOptions } from "./tcp_forwarder.ts";
export { printable } from "./printable.ts";
export { containerLabels, currentOwner, LABELS, ownerStatus } from "./labels.ts";
export {
  listManagedContainers,
  type ManagedContainer,
  reapContainers,
  type ReapedContainer,
  type ReapOptions,
} from "./managed_containers.ts";
export {
  CONTAINER_PORT,
  DockerContainer,
  type DockerStartOptions,
  LocalDockerProvider,
  type LocalDockerProviderOptions,
} from "./local_docker_provider.ts";
export { type ContextSource, createBuildContext } from "./build_context.ts";
export { DockerIgnore } from "./dockerignore.ts";
export { BASE_IMAGE, buildImages, type BuiltImage } from "./image_builder.ts";
