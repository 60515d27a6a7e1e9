/* Whether a store file is in use, and holding it so that it can be removed safely: a write
 * lease (fcntl F_SETLEASE, F_WRLCK) on the blob.
 *
 * DESIGN: the kernel grants a write lease only when no other open file description exists
 * for the inode, whatever process, container or path opened it (a session sees blobs at
 * /models/blobs/..., the daemon at <store>/blobs/...), and a memory mapping keeps its file
 * open after the descriptor is closed. The daemon owns the blobs it created, so it needs no
 * privilege, no hostPID and no access to other users' /proc. While the lease is held, a
 * process that opens the file waits (lease break) until the lease is released, so "not in
 * use" cannot turn into "in use" between the check and the unlink: evict = take the lease,
 * unlink, release. A lease break signals the holder with SIGIO, whose default action ends
 * the process, so the first lease sets SIGIO to be ignored (when it is at its default). */
#ifndef GPUAAS_CACHE_INUSE_H
#define GPUAAS_CACHE_INUSE_H

/* Opens path read-only and takes a write lease on it. Returns 0 with *ret_fd holding the
 * lease (release with cache_inuse_release), -EBUSY when another open file description
 * exists (the file is in use), -ENOENT when the file is missing, or another negative errno
 * (e.g. -EINVAL: the filesystem has no leases; -EACCES: not the file's owner), which the
 * caller must treat as "in use". */
int cache_inuse_lease(const char *path, int *ret_fd);
/* Releases the lease and closes fd; fd < 0 is ignored. */
void cache_inuse_release(int fd);

#endif
