/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nscell-test-stall DIR — what an ordinary user can do to a directory they
 * can read: hold its i_rwsem indefinitely. Used by test_contention.py.
 *
 * In a user and mount namespace of our own we mount a FUSE file system whose
 * server never answers a READ, and map one of its files. getdents64() on DIR
 * into that mapping takes DIR's lock shared and then faults on the mapping,
 * waiting on our server; a mkdir() in DIR then queues for the lock
 * exclusively, and from then on every lookup in DIR that misses the dcache
 * (on tmpfs: every lookup of a name that does not exist) waits too, whoever
 * makes it, root included, in D state.
 *
 * Prints "STALLED" once the lock is held, and lets go at EOF on stdin (or
 * when killed: the server, a separate process, dies with us, which aborts the
 * FUSE connection and fails the fault).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITER_NAME ".nscit-stall-writer"

static int dirfd_, readpipe[2];
static void *buf;
static volatile bool writer_done;

static void die(const char *what)
{
	fprintf(stderr, "nscell-test-stall: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(path);
	close(fd);
}

static void reply(int fd, uint64_t unique, int error, const void *body, size_t len)
{
	char out[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header h = {
		.len = (uint32_t)(sizeof(h) + len),
		.error = error,
		.unique = unique,
	};

	memcpy(out, &h, sizeof(h));
	if (len)
		memcpy(out + sizeof(h), body, len);
	(void)!write(fd, out, h.len);
}

static void fill_attr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0644;
	a->nlink = ino == FUSE_ROOT_ID ? 2 : 1;
	a->size = ino == FUSE_ROOT_ID ? 0 : 4096;
	a->blocks = 8;
	a->blksize = 4096;
}

/* The server: answers enough to open and map one file, and never a READ. */
static _Noreturn void serve(int fd)
{
	static char in[FUSE_MIN_READ_BUFFER + 65536];

	for (;;) {
		ssize_t n = read(fd, in, sizeof(in));
		struct fuse_in_header *h = (struct fuse_in_header *)in;

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < (ssize_t)sizeof(*h))
			_exit(0);
		switch (h->opcode) {
		case FUSE_INIT: {
			struct fuse_init_out o = {
				.major = FUSE_KERNEL_VERSION,
				.minor = FUSE_KERNEL_MINOR_VERSION,
				.max_readahead = 4096,
				.max_background = 16,
				.congestion_threshold = 12,
				.max_write = 4096,
				.time_gran = 1,
			};
			reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out o = { .nodeid = 2, .entry_valid = 3600, .attr_valid = 3600 };
			fill_attr(&o.attr, 2);
			reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out o = { .attr_valid = 3600 };
			fill_attr(&o.attr, h->nodeid);
			reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { .fh = 1 };
			reply(fd, h->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_READ:
			(void)!write(readpipe[1], "r", 1); /* and never answer */
			break;
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		case FUSE_FLUSH:
		case FUSE_RELEASE:
			reply(fd, h->unique, 0, NULL, 0);
			break;
		default:
			reply(fd, h->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
}

static void *reader(void *arg)
{
	(void)arg;
	/* Takes DIR's lock shared, then faults on buf: waits on our server. */
	syscall(SYS_getdents64, dirfd_, buf, 4096);
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	mkdirat(dirfd_, WRITER_NAME, 0700); /* queues for the lock exclusively */
	writer_done = true;
	return NULL;
}

int main(int argc, char **argv)
{
	char map[64], opts[128], c;
	uid_t uid = getuid();
	gid_t gid = getgid();
	pthread_t r, w;
	pid_t server;
	int fusefd, filefd;

	if (argc != 2) {
		fprintf(stderr, "usage: nscell-test-stall DIR\n");
		return 2;
	}
	dirfd_ = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_ < 0)
		die(argv[1]);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		die("unshare");
	put("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	put("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	put("/proc/self/gid_map", map);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private");
	if (mount("tmpfs", "/tmp", "tmpfs", 0, "mode=0700") < 0)
		die("mount a tmpfs on /tmp");
	if (mkdir("/tmp/f", 0700) < 0)
		die("mkdir /tmp/f");
	/* Opened in the new user namespace: FUSE wants its opener's there. */
	fusefd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fusefd < 0)
		die("/dev/fuse");
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fusefd);
	if (mount("nscit-stall", "/tmp/f", "fuse", MS_NOSUID | MS_NODEV, opts) < 0)
		die("mount fuse");
	if (pipe2(readpipe, O_CLOEXEC) < 0)
		die("pipe");
	server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve(fusefd);
	}
	close(fusefd); /* the server's is the last: its death aborts the connection */

	filefd = open("/tmp/f/file", O_RDONLY | O_CLOEXEC);
	if (filefd < 0)
		die("open /tmp/f/file");
	buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, filefd, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	pthread_create(&r, NULL, reader, NULL);
	if (read(readpipe[0], &c, 1) != 1)
		die("wait for the fault");
	pthread_create(&w, NULL, writer, NULL);
	usleep(300 * 1000);
	if (writer_done) {
		fprintf(stderr, "nscell-test-stall: the writer was not held\n");
		return 1;
	}
	printf("STALLED server=%d\n", (int)server);
	fflush(stdout);

	while (read(0, &c, 1) > 0)
		;
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	pthread_join(r, NULL);
	pthread_join(w, NULL);
	unlinkat(dirfd_, WRITER_NAME, AT_REMOVEDIR);
	printf("RELEASED\n");
	return 0;
}
