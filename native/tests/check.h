/* A tiny TAP-like harness for the C tests of the preload library: `ok N - what` or `not ok`. */
#ifndef SMAF_CHECK_H
#define SMAF_CHECK_H
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int check_count, check_failed;

#define CHECK(cond, ...)                                                                  \
	do {                                                                              \
		int check_errno_ = errno;                                                 \
		check_count++;                                                            \
		if (cond) {                                                               \
			printf("ok %d - ", check_count);                                  \
		} else {                                                                  \
			check_failed++;                                                   \
			printf("not ok %d - (%s:%d, errno %s) ", check_count, __FILE__, __LINE__, strerror(check_errno_)); \
		}                                                                         \
		printf(__VA_ARGS__);                                                      \
		printf("\n");                                                             \
		fflush(stdout);                                                           \
	} while (0)

/* A call that must fail with one errno. */
#define CHECK_ERRNO(expr, err, ...)                                                       \
	do {                                                                              \
		errno = 0;                                                                \
		long check_r_ = (long)(expr);                                             \
		int check_e_ = errno;                                                     \
		errno = check_e_;                                                         \
		CHECK(check_r_ == -1 && check_e_ == (err), __VA_ARGS__);                  \
	} while (0)

static int check_done(void)
{
	printf("%d checks, %d failed\n", check_count, check_failed);
	return check_failed ? 1 : 0;
}
#endif
