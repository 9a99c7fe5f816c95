/* Run a fuzz target's LLVMFuzzerTestOneInput over files, without libFuzzer: each argument
 * is a file or a directory of files. Used by ctest to replay the seed corpus and any
 * crash inputs checked in there, in builds that are not instrumented for fuzzing. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_INPUT (16u * 1024 * 1024)

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n;
	if (!fp) {
		fprintf(stderr, "driver: cannot open %s\n", path);
		return 1;
	}
	buf = malloc(DRIVER_MAX_INPUT);
	if (!buf) {
		fclose(fp);
		return 1;
	}
	n = fread(buf, 1, DRIVER_MAX_INPUT, fp);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int count = 0, rc = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "driver: no such file or directory: %s\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			rc |= run_file(argv[i]);
			count++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		if (!d)
			return 1;
		while ((e = readdir(d))) {
			char path[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			rc |= run_file(path);
			count++;
		}
		closedir(d);
	}
	/* Also every input of up to 2 bytes: cheap, and catches edge cases in length checks. */
	for (unsigned v = 0; v < 65536 + 256 + 1; v++) {
		uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
		size_t len = v == 0 ? 0 : (v <= 256 ? 1 : 2);
		LLVMFuzzerTestOneInput(b, len);
	}
	printf("driver: %d corpus inputs and all inputs of up to 2 bytes ran clean\n", count);
	return rc;
}
