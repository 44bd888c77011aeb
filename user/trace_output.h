/* SPDX-License-Identifier: LGPL-2.1 */
/* How `kcmptrace trace` reports sharing changes: lines, or JSON lines. */
#ifndef KT_TRACE_OUTPUT_H
#define KT_TRACE_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include "tracer.h"

struct trace_output {
	FILE *out;
	bool json;
	uint64_t t0_ns; /* CLOCK_MONOTONIC at start: times are printed relative to it */
};

/* A kt_report_fn; @arg is a struct trace_output. */
void trace_output_report(struct kt_tracer *tr, const struct kt_change *ch, void *arg);
void trace_output_summary(struct trace_output *o, struct kt_tracer *tr);
void trace_output_ready(struct trace_output *o, struct kt_tracer *tr, const char *target);

#endif
