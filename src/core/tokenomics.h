/* Tokenomics: what a token costs on the platform's own hardware, when on-prem beats a cloud
 * API, and what infrastructure a demand needs. Pure: values in, values out. Every formula is
 * stated with units in docs/tokenomics.md.
 *
 * Flow: tok_parse() validates a jansson input document into struct tok_input (defaults
 * filled); tok_compute() returns the result document (new reference); tok_svg() draws
 * cost per million tokens against utilization with the cloud prices and break-even points. */
#ifndef GPUAAS_CORE_TOKENOMICS_H
#define GPUAAS_CORE_TOKENOMICS_H

#include "common/error.h"
#include "core/pool.h"
#include "core/reservation.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOK_MAX_SERVERS 16
#define TOK_MAX_WORKLOADS 32
#define TOK_MAX_PRICES 16
#define TOK_SECONDS_PER_YEAR 31536000.0 /* 8760 h */
#define TOK_HOURS_PER_YEAR 8760.0

struct tok_price {
    char name[64];
    double input_per_million;  /* $ per 1M input tokens */
    double output_per_million; /* $ per 1M output tokens */
};

struct tok_server {
    char name[64];
    int count;                /* active servers: cost and capacity */
    int standby;              /* redundancy: cost (idle power) counted, capacity not */
    double capex;             /* $ per server */
    int gpus;                 /* per server */
    double overhead_fraction; /* network/rack/storage, fraction of capex */
    double power_load_kw;     /* wall power at full load, kW per server */
    double power_idle_kw;     /* wall power idle, kW per server */
};

struct tok_workload {
    char name[64];
    double tokens_per_second_per_gpu; /* output tok/s per GPU at the latency target */
    int gpus_per_replica;
    int min_replicas;
    bool has_share, has_demand;
    double share;                  /* fraction of tokens, 0..1 */
    double demand_tokens_per_year; /* output tokens per year */
    double input_output_ratio;     /* input tokens per output token */
    int installed_gpus;            /* -1: derived from the fleet by GPU-time share */
    char server[64];               /* server type that hosts it ("" = smallest that fits) */
    struct tok_price prices[TOK_MAX_PRICES];
    int n_prices;
};

struct tok_input {
    struct tok_server servers[TOK_MAX_SERVERS];
    int n_servers;
    struct {
        double life_years;
        double cost_of_capital;       /* annual rate; 0 = straight line */
        double residual_fraction;     /* of capex at end of life */
        double maintenance_fraction;  /* of capex per year */
        double licenses_per_gpu_year; /* $ */
        double ops_per_year;          /* $ */
    } finance;
    struct {
        double pue;
        double electricity_per_kwh; /* $ */
    } facility;
    struct tok_workload workloads[TOK_MAX_WORKLOADS];
    int n_workloads;
    double utilization;        /* 0 < U <= 1 */
    bool utilization_measured; /* input said "measured": the caller fills utilization */
    struct {
        double target_utilization;
        double peak_to_average;
        double peak_ceiling;
        double budget_per_year; /* $; 0 = no budget */
    } planning;
};

/* Validates `in` (strict: unknown fields, wrong types and out-of-range values are refused
 * with a message that names the field and its unit). */
int tok_parse(const json_t *in, struct tok_input *ret, struct error *err);
/* Computes the whole result. `in->utilization` must be set (also when measured). */
int tok_compute(const struct tok_input *in, json_t **ret, struct error *err);
/* SVG chart of the result's curve, cloud prices and break-even points. *ret is malloc'ed. */
int tok_svg(const json_t *result, char **ret, struct error *err);
/* Booked fraction of GPU capacity over [from, to): booked GPU memory-seconds over the
 * pool's GPU memory-seconds (a 1g.24gb slice of a 96 GB GPU weighs a quarter). Bookings are
 * those that held capacity (APPROVED/ACTIVE/COMPLETED, not CANCELED/FAILED). */
double tok_measured_utilization(const struct pool *p, const struct reservation *r, size_t n,
                                int64_t from, int64_t to);

#endif
