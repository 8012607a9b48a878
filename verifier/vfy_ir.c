/*
 * vfy_ir.c - the filter IR rules (see vfy.h).  One pass over the atoms;
 * the first broken rule is reported and nothing is changed.
 */
#include "verifier/vfy.h"

#include "dpf/internal.h"

int vfy_filter(const struct dpf_filter *f, struct dpf_diag *d)
{
	size_t nl = 0;
	while (nl <= DPF_NAME_MAX && f->name[nl])
		nl++;
	if (nl == 0 || nl > DPF_NAME_MAX) {
		dpf_fmt(d->msg, sizeof d->msg, "filter name is %s",
		        nl ? "too long" : "empty");
		return DPF_EINVAL;
	}
	for (size_t i = 0; i < nl; i++) {
		char c = f->name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         c == '_' || (i > 0 && ((c >= '0' && c <= '9') || c == '.' ||
		                                c == '-'));
		if (!ok) {
			dpf_fmt(d->msg, sizeof d->msg,
			        "filter name has a bad character at byte %zu", i);
			return DPF_EINVAL;
		}
	}
	if (f->priority > DPF_PRIO_MAX) {
		dpf_fmt(d->msg, sizeof d->msg,
		        "filter '%s': priority %u is above %u", f->name, f->priority,
		        DPF_PRIO_MAX);
		return DPF_EINVAL;
	}
	if (f->npaths == 0 || f->npaths > DPF_MAX_PATHS) {
		dpf_fmt(d->msg, sizeof d->msg,
		        "filter '%s': %u paths (must be 1..%u)", f->name, f->npaths,
		        DPF_MAX_PATHS);
		return f->npaths ? DPF_ELIMIT : DPF_EINVAL;
	}
	for (uint32_t p = 0; p < f->npaths; p++) {
		const struct dpf_path *pa = &f->paths[p];
		if (pa->natoms > DPF_MAX_ATOMS) {
			dpf_fmt(d->msg, sizeof d->msg,
			        "filter '%s' path %u: %u atoms (limit %u)", f->name, p,
			        pa->natoms, DPF_MAX_ATOMS);
			return DPF_ELIMIT;
		}
		unsigned shifts = 0;
		for (uint32_t i = 0; i < pa->natoms; i++) {
			const struct dpf_atom *a = &pa->atoms[i];
			const char *why = NULL;
			if (a->kind > DPF_ATOM_SHIFT)
				why = "unknown atom kind";
			else if (a->base > DPF_BASE_REL)
				why = "unknown base";
			else if (a->width != 1 && a->width != 2 && a->width != 4)
				why = "width is not 1, 2 or 4";
			else if (a->mask == 0)
				why = "mask is zero";
			else if (a->mask & ~dpf_width_mask(a->width))
				why = "mask is wider than the load";
			else if (a->kind == DPF_ATOM_CMP && (a->value & ~a->mask))
				why = "value has bits outside the mask";
			else if (a->kind == DPF_ATOM_CMP && a->shift)
				why = "compare atom has a shift count";
			else if (a->kind == DPF_ATOM_SHIFT && a->width == 4)
				why = "shift loads 1 or 2 bytes";
			else if (a->kind == DPF_ATOM_SHIFT && a->shift > DPF_MAX_SHIFT_K)
				why = "shift count above 8";
			else if (a->kind == DPF_ATOM_SHIFT && a->value)
				why = "shift atom has a value";
			else if (a->kind == DPF_ATOM_SHIFT && ++shifts > DPF_MAX_SHIFTS)
				why = "more than 8 shift atoms";
			if (why) {
				dpf_fmt(d->msg, sizeof d->msg,
				        "filter '%s' path %u atom %u: %s", f->name, p, i, why);
				return DPF_EINVAL;
			}
		}
	}
	return DPF_OK;
}
