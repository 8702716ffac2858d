/**
 * The seccomp profile every envtorch container runs under
 * (`seccomp_profile.json`, beside this file), applied through
 * `HostConfig.SecurityOpt: ["seccomp=<json>"]`.
 *
 * The profile is an allow list, like the engine's default one: a system call
 * that is not listed fails with EPERM. It allows the Linux system calls of
 * x86_64 and arm64 except {@link REMOVED_SYSCALLS}, which a Python sandbox
 * and the envtorch server never need and which widen the kernel surface
 * reachable from untrusted code. Three calls are allowed only in part:
 *
 * - `clone` only without a namespace flag (no new user, mount, pid, net, ipc,
 *   uts or cgroup namespace), as in the engine's default;
 * - `clone3` fails with ENOSYS (its flags cannot be filtered), so the C
 *   library falls back to `clone`;
 * - `personality` only for the harmless personas (Linux, 32-bit address
 *   compatibility flags, and the query value).
 *
 * Only the native ABI is allowed: a 32-bit system call from a 64-bit process
 * (`int 0x80`) is refused.
 *
 * To change the profile, edit {@link REMOVED_SYSCALLS} and the JSON together:
 * `seccomp_test.ts` checks that they agree.
 *
 * @module
 */
import profile from "./seccomp_profile.json" with { type: "json" };

/**
 * System calls the profile refuses (EPERM) although the engine's default
 * profile allows some of them, grouped by why.
 */
export const REMOVED_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  /** Asynchronous I/O rings: a large kernel surface with a long record of bugs; Python never uses it. */
  io_uring: ["io_uring_setup", "io_uring_enter", "io_uring_register"],
  /** Reading or changing other processes (another session's worker, the server). */
  otherProcesses: [
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "kcmp",
    "pidfd_getfd",
  ],
  /** Kernel interfaces with no use in a sandbox and a history of exploits. */
  kernelSurface: [
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "lookup_dcookie",
    "add_key",
    "keyctl",
    "request_key",
    "modify_ldt",
    "iopl",
    "ioperm",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vhangup",
    "syslog",
    "memfd_secret",
  ],
  /** New namespaces and mounts (an unprivileged user namespace needs no capability). */
  namespacesAndMounts: [
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "open_by_handle_at",
    "name_to_handle_at",
    "quotactl",
    "quotactl_fd",
  ],
  /** Administration of the host: modules, reboot, swap, clock, host name. */
  hostAdministration: [
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "query_module",
    "get_kernel_syms",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "fanotify_init",
    "nfsservctl",
  ],
  /** Memory placement across NUMA nodes. */
  numa: ["mbind", "set_mempolicy", "migrate_pages", "move_pages", "set_mempolicy_home_node"],
  /** Numbers the kernel reserves but does not implement. */
  unimplemented: ["afs_syscall", "tuxcall", "security", "putpmsg", "getpmsg", "vserver"],
};

/** The profile as the engine reads it (the JSON file, parsed). */
export const SECCOMP_PROFILE: typeof profile = profile;

/** The `SecurityOpt` entry that applies the profile: `seccomp=<json>`. */
export const SECCOMP_SECURITY_OPT: string = `seccomp=${JSON.stringify(profile)}`;

/** Whether a `SecurityOpt` entry is a seccomp profile other than envtorch's own. */
export function isForeignSeccomp(opt: string): boolean {
  return /^seccomp[=:]/.test(opt) && opt !== SECCOMP_SECURITY_OPT;
}
