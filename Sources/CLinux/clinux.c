#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>

#ifndef BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA
#define BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA 4
#endif

int clinux_btrfs_quota_enable(const char *path, int simple) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct btrfs_ioctl_quota_ctl_args args = {
        .cmd = simple ? BTRFS_QUOTA_CTL_ENABLE_SIMPLE_QUOTA : BTRFS_QUOTA_CTL_ENABLE,
    };
    int result = ioctl(fd, BTRFS_IOC_QUOTA_CTL, &args) < 0 ? -errno : 0;
    close(fd);
    return result;
}

int clinux_btrfs_qgroup_usage(const char *path, clinux_qgroup_usage *out, uint32_t capacity, uint32_t *count) {
    *count = 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;

    struct btrfs_ioctl_search_args args;
    memset(&args, 0, sizeof(args));
    struct btrfs_ioctl_search_key *key = &args.key;
    key->tree_id = BTRFS_QUOTA_TREE_OBJECTID;
    key->min_type = BTRFS_QGROUP_INFO_KEY;
    key->max_type = BTRFS_QGROUP_INFO_KEY;
    key->max_objectid = (uint64_t)-1;
    key->max_offset = (uint64_t)-1;
    key->max_transid = (uint64_t)-1;

    for (;;) {
        key->nr_items = 4096;
        if (ioctl(fd, BTRFS_IOC_TREE_SEARCH, &args) < 0) {
            int err = errno;
            close(fd);
            return -err;
        }
        if (key->nr_items == 0) break;
        unsigned long offset = 0;
        struct btrfs_ioctl_search_header *header = NULL;
        for (uint32_t i = 0; i < key->nr_items; i++) {
            header = (struct btrfs_ioctl_search_header *)(args.buf + offset);
            offset += sizeof(*header);
            if (header->type == BTRFS_QGROUP_INFO_KEY && (header->offset >> 48) == 0 && *count < capacity) {
                struct btrfs_qgroup_info_item *item = (struct btrfs_qgroup_info_item *)(args.buf + offset);
                out[*count].subvolume_id = header->offset & ((1ULL << 48) - 1);
                out[*count].referenced = item->rfer;
                out[*count].exclusive = item->excl;
                (*count)++;
            }
            offset += header->len;
        }
        // Continue after the last key returned.
        key->min_objectid = header->objectid;
        key->min_type = header->type;
        key->min_offset = header->offset;
        if (key->min_offset < (uint64_t)-1) {
            key->min_offset++;
        } else {
            break;
        }
        if (*count >= capacity) break;
    }
    close(fd);
    return 0;
}

int clinux_rename_exchange(const char *a, const char *b) {
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0 ? -errno : 0;
}

int clinux_syncfs(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int result = syncfs(fd) < 0 ? -errno : 0;
    close(fd);
    return result;
}

int clinux_is_on_btrfs(const char *path) {
    struct statfs info;
    if (statfs(path, &info) < 0) return -errno;
    return info.f_type == BTRFS_SUPER_MAGIC ? 1 : 0;
}

int clinux_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return result;
    }
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);

    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);

    result = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return result;
}

int clinux_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) < 0 ? errno : 0;
}

int clinux_pipe_resize(int fd, int bytes) {
    int result = fcntl(fd, F_SETPIPE_SZ, bytes);
    return result < 0 ? -errno : result;
}

int clinux_wait(pid_t pid) {
    int status = 0;
    for (;;) {
        pid_t result = waitpid(pid, &status, 0);
        if (result == pid) break;
        if (result < 0 && errno == EINTR) continue;
        return -errno;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

#include <linux/fiemap.h>
#include <linux/fs.h>

int clinux_fiemap(int fd, uint64_t start, clinux_extent *out, uint32_t capacity, uint32_t *count, int *last) {
    size_t size = sizeof(struct fiemap) + capacity * sizeof(struct fiemap_extent);
    struct fiemap *map = calloc(1, size);
    if (map == NULL) return -ENOMEM;
    map->fm_start = start;
    map->fm_length = FIEMAP_MAX_OFFSET - start;
    map->fm_flags = FIEMAP_FLAG_SYNC;
    map->fm_extent_count = capacity;
    if (ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
        int error = errno;
        free(map);
        return -error;
    }
    *count = map->fm_mapped_extents;
    *last = 0;
    for (uint32_t i = 0; i < map->fm_mapped_extents; i++) {
        out[i].logical = map->fm_extents[i].fe_logical;
        out[i].physical = map->fm_extents[i].fe_physical;
        out[i].length = map->fm_extents[i].fe_length;
        out[i].flags = map->fm_extents[i].fe_flags;
        if (map->fm_extents[i].fe_flags & FIEMAP_EXTENT_LAST) *last = 1;
    }
    free(map);
    return 0;
}
