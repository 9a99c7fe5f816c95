#include "core/err.h"

#include <stddef.h>

struct err_entry {
	int code;
	const char *name;
	const char *text;
};

static const struct err_entry err_table[] = {
	{ IOLM_OK, "IOLM_OK", "success" },
#define IOLM_ERR(name, code, text) { (code), #name, (text) },
#include "core/errors.def"
#undef IOLM_ERR
};

static const struct err_entry *err_find(int err)
{
	for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
		if (err_table[i].code == err)
			return &err_table[i];
	return NULL;
}

const char *iolm_strerror(int err)
{
	const struct err_entry *e = err_find(err);
	return e ? e->text : "unknown error";
}

const char *iolm_errname(int err)
{
	const struct err_entry *e = err_find(err);
	return e ? e->name : "IOLM_E?";
}
