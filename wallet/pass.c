/* Passphrases: from a file, the environment or the terminal without echo, kept in
 * sodium_malloc memory (locked against swapping, guard pages) and wiped on free. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "wallet/wallet.h"

#define PASS_ENV "IOLM_WALLET_PASSPHRASE"

void wallet_pass_free(char *pass)
{
	sodium_free(pass); /* zeroes before freeing; NULL is a no-op */
}

/* One line from fd into buf (cap bytes with the NUL), without its newline. Reads a byte at
 * a time so nothing past the line is consumed or left in a stdio buffer. */
static int read_line(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	char c;
	ssize_t r;

	while ((r = read(fd, &c, 1)) == 1 && c != '\n') {
		if (n + 1 >= cap)
			return IOLM_ETOOBIG;
		buf[n++] = c;
	}
	if (r < 0)
		return IOLM_EIO;
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	return IOLM_OK;
}

/* Prompt on the controlling terminal with echo off; the terminal is restored after. */
static int prompt_tty(char *buf, size_t cap, size_t *len, const char *prompt)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY), err;

	if (fd < 0)
		return IOLM_EWALLET_NOPASS;
	if (tcgetattr(fd, &old) != 0) {
		close(fd);
		return IOLM_EWALLET_NOPASS;
	}
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~(ECHO | ECHOE | ECHOK | ECHONL);
	if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		close(fd);
		return IOLM_EWALLET_NOPASS;
	}
	err = read_line(fd, buf, cap, len);
	(void)tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		err = err ? err : IOLM_EIO;
	close(fd);
	return err;
}

int wallet_pass_get(char **pass, size_t *len, const char *file, const char *prompt,
		    int confirm)
{
	const size_t cap = WALLET_PASS_MAX + 1;
	char *p = sodium_malloc(cap), *again = NULL;
	const char *env = getenv(PASS_ENV);
	int err;

	*pass = NULL;
	*len = 0;
	if (!p)
		return IOLM_ENOMEM;
	if (file) {
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = IOLM_ENOTFOUND;
			goto fail;
		}
		err = read_line(fd, p, cap, len);
		close(fd);
	} else if (env) {
		*len = strlen(env);
		err = *len < cap ? IOLM_OK : IOLM_ETOOBIG;
		if (!err)
			memcpy(p, env, *len + 1);
	} else {
		err = prompt_tty(p, cap, len, prompt);
		if (!err && confirm) {
			size_t len2;
			if (!(again = sodium_malloc(cap))) {
				err = IOLM_ENOMEM;
				goto fail;
			}
			err = prompt_tty(again, cap, &len2, "Repeat the passphrase: ");
			if (!err && (len2 != *len || sodium_memcmp(again, p, *len) != 0))
				err = IOLM_EWALLET_MISMATCH;
			sodium_free(again);
		}
	}
	if (err)
		goto fail;
	*pass = p;
	return IOLM_OK;
fail:
	sodium_free(p);
	*len = 0;
	return err;
}
