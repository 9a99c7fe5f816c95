/* iolmd art: the node's artifact store from the command line (docs/artifacts.md).
 *
 *   iolmd art add  -d DIR PATH [--kind dataset|checkpoint|model]   prints the id
 *   iolmd art get  -d DIR ID DEST
 *   iolmd art list -d DIR                 with why a validator keeps one (DIR/kept)
 *   iolmd art pin|unpin -d DIR ID
 *   iolmd art rm -d DIR ID                drop one unpinned artifact and its own chunks
 *   iolmd art manifest -d DIR ID          the encoded manifest, in hex
 *   iolmd art gc -d DIR [--keep-mb N]     drop unpinned artifacts, free chunks above N MiB
 * LMDB allows this while the node runs. Added artifacts are pinned (kept by GC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/art.h"
#include "core/hex.h"
#include "node/cli.h"
#include "node/kept.h"

static int usage(void)
{
	fprintf(stderr, "usage: iolmd art add -d DIR PATH [--kind dataset|checkpoint|model]\n"
			"       iolmd art get -d DIR ID DEST\n"
			"       iolmd art list -d DIR\n"
			"       iolmd art pin|unpin -d DIR ID\n"
			"       iolmd art rm -d DIR ID\n"
			"       iolmd art manifest -d DIR ID\n"
			"       iolmd art gc -d DIR [--keep-mb N]\n");
	return 2;
}

static void print_gc(const char *what, const art_gc_stats *st)
{
	printf("%s %llu artifacts, freed %llu chunks (%llu bytes)\n", what,
	       (unsigned long long)st->artifacts_removed, (unsigned long long)st->chunks_freed,
	       (unsigned long long)st->bytes_freed);
}

static int remove_one(art_store *s, const uint8_t id[ART_ID_LEN])
{
	art_gc_stats st;
	int err = art_store_remove(s, id, &st);
	if (!err)
		print_gc("removed", &st);
	return err;
}

/* The i-th argument after "art VERB" that is not an option or an option's value. */
static const char *positional(int argc, char **argv, int i)
{
	for (int k = 3; k < argc; k++) {
		if (argv[k][0] == '-' && argv[k][1]) {
			k++;
			continue;
		}
		if (i-- == 0)
			return argv[k];
	}
	return NULL;
}

int cli_art(int argc, char **argv)
{
	const char *dir = cli_opt(argc, argv, "-d"), *verb = argc > 2 ? argv[2] : NULL;
	char path[1200];
	art_store *s;
	int err;

	if (!dir || !verb)
		return usage();
	snprintf(path, sizeof path, "%s/artifacts", dir);
	if ((err = art_store_open(&s, path, NULL))) {
		fprintf(stderr, "iolmd: %s: %s\n", path, iolm_strerror(err));
		return 1;
	}
	if (!strcmp(verb, "add") && positional(argc, argv, 0)) {
		const char *kind = cli_opt(argc, argv, "--kind");
		art_add_options o = { .kind = ART_KIND_DATASET, .pin = 1 };
		uint8_t id[ART_ID_LEN];
		char hex[2 * ART_ID_LEN + 1];
		art_add_stats st;
		if (kind && art_kind_parse(&o.kind, kind)) {
			art_store_close(s);
			return usage();
		}
		err = art_store_add(s, id, &st, positional(argc, argv, 0), &o);
		if (!err) {
			iolm_hex_encode(hex, sizeof hex, id, ART_ID_LEN);
			printf("%s\n", hex);
			fprintf(stderr, "added %llu bytes in %llu chunks (%llu new)\n",
				(unsigned long long)st.bytes, (unsigned long long)st.chunks,
				(unsigned long long)st.new_chunks);
		}
	} else if (!strcmp(verb, "get") && positional(argc, argv, 1)) {
		uint8_t id[ART_ID_LEN];
		err = iolm_hex_decode_exact(id, ART_ID_LEN, positional(argc, argv, 0));
		if (!err)
			err = art_store_get(s, id, positional(argc, argv, 1));
	} else if (!strcmp(verb, "list")) {
		art_info info[256];
		size_t n, total;
		node_kept *k = NULL;
		char kpath[1200];
		/* what a validator keeps for the chain, and why (a list it cannot read: none) */
		snprintf(kpath, sizeof kpath, "%s/kept", dir);
		if (node_kept_read(&k, kpath))
			fprintf(stderr, "iolmd: %s unreadable: reasons not shown\n", kpath);
		err = art_store_list(s, info, 256, &n, &total);
		for (size_t i = 0; !err && i < n; i++) {
			char hex[2 * ART_ID_LEN + 1], ohex[65];
			uint8_t owner[32];
			const char *why = node_kept_why(k, info[i].id, owner);
			iolm_hex_encode(hex, sizeof hex, info[i].id, ART_ID_LEN);
			printf("%s  %-10s  %llu bytes  %u files  %u chunks%s", hex,
			       art_kind_name(info[i].kind),
			       (unsigned long long)info[i].total_size, info[i].n_files,
			       info[i].n_chunks, info[i].pinned ? "  pinned" : "");
			if (why) {
				iolm_hex_encode(ohex, sizeof ohex, owner, 32);
				printf("  kept as %s of %s %.16s", why,
				       strcmp(why, "pending_work") ? "task" : "work", ohex);
			}
			printf("\n");
		}
		node_kept_close(k);
	} else if ((!strcmp(verb, "pin") || !strcmp(verb, "unpin") || !strcmp(verb, "manifest") ||
		    !strcmp(verb, "rm")) &&
		   positional(argc, argv, 0)) {
		uint8_t id[ART_ID_LEN];
		err = iolm_hex_decode_exact(id, ART_ID_LEN, positional(argc, argv, 0));
		if (!err && !strcmp(verb, "pin"))
			err = art_store_pin(s, id);
		else if (!err && !strcmp(verb, "unpin"))
			err = art_store_unpin(s, id);
		else if (!err && !strcmp(verb, "rm"))
			err = remove_one(s, id);
		else if (!err) {
			iolm_buf m;
			iolm_buf_init(&m, 64u << 20);
			if (!(err = art_store_manifest(s, &m, id))) {
				char *hex = malloc(2 * m.len + 1);
				if (hex) {
					iolm_hex_encode(hex, 2 * m.len + 1, m.data, m.len);
					printf("%s\n", hex);
					free(hex);
				} else {
					err = IOLM_ENOMEM;
				}
			}
			iolm_buf_release(&m, 0);
		}
	} else if (!strcmp(verb, "gc")) {
		const char *keep = cli_opt(argc, argv, "--keep-mb");
		art_gc_stats st;
		err = art_store_gc(s, &st, keep ? strtoull(keep, NULL, 10) << 20 : 0, 0);
		if (!err)
			print_gc("removed", &st);
	} else {
		art_store_close(s);
		return usage();
	}
	art_store_close(s);
	if (err) {
		fprintf(stderr, "iolmd: art %s: %s\n", verb, iolm_strerror(err));
		return 1;
	}
	return 0;
}
