/**
 * @file modules/risk/reports.c
 * @brief Module R, part D: monitoring reports (R3.1) and the register's 5x5 heat map, and the job
 * kind 'risk.reports'. Every route is one SQL API function (sql/code/risk/070_reports.sql); this
 * file draws the heat map as SVG 1.1 when Accept asks for image/svg+xml (core/formats.h), of a
 * stored report (its body's heatmap) or of today's register (GET /v1/risk-heatmap).
 *
 * The map is readable without sight: role="img", a <title> and a <desc> (aria-labelledby names
 * both) where the desc says in words every cell that holds a risk and the totals; each cell has its
 * own <title>, and its level is written in it as a letter (L, M, H, C), so colour is never the only
 * cue. No script, no external reference; every text from the data is escaped (tx_xml_text).
 *
 * The job (schedule daily 03:00 company time, migration 0029) runs risk.reports_job: the regular
 * report when risk_schedules.report_every_months have passed since the day of the last regular one
 * (the first one at once). Payload {"today": "YYYY-MM-DD"} names the company day for a catch-up
 * run; a day makes at most one regular report (unique index), so a retried run makes nothing twice.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "core/svg.h"
#include "jobs/jobs.h"
#include "modules/risk/risk.h"

#include <string.h>

static const struct tx_sql sql_risk_reports_list = {
  "risk_reports_list", "SELECT api.risk_report_list($1, $2::int, $3)::text", 3};
static const struct tx_sql sql_risk_reports_create = {
  "risk_reports_create", TX_CALL_ROW_UNVERSIONED "api.risk_report_create($1::jsonb) j", 1};
static const struct tx_sql sql_risk_reports_get = {
  "risk_reports_get", TX_CALL_ROW_UNVERSIONED "api.risk_report_get($1::uuid) j", 1};
static const struct tx_sql sql_risk_heatmap = {
  "risk_heatmap", "SELECT api.risk_heatmap()::text, NULL, NULL", 0};

/* The levels of the matrix (risk_matrix, R1.2): how a cell of each is drawn and named. */
static const struct {
  const char *level, *fill, *letter, *label;
} levels[] = {
  {"low", "#c8e6c9", "L", "低 low"},
  {"medium", "#fff59d", "M", "中 medium"},
  {"high", "#ffcc80", "H", "高 high"},
  {"critical", "#ef9a9a", "C", "極高 critical"},
};
#define NLEVELS (sizeof levels / sizeof levels[0])

static size_t level_index(const char *level)
{
  for (size_t i = 0; level && i < NLEVELS; i++)
    if (!strcmp(levels[i].level, level))
      return i;
  return NLEVELS;
}

/* Geometry: likelihood 5 (top) to 1 (bottom), impact 1 (left) to 5 (right). */
#define H_W 600
#define H_H 520
#define H_LEFT 90
#define H_TOP 60
#define H_CELL 70

int tx_risk_heatmap_svg(const json_t *j_doc, FILE *out)
{
  /* a stored report carries the map in its body; the live map at the top */
  const json_t *j_hm = json_object_get(j_doc, "heatmap");
  const char *as_of = json_string_value(json_object_get(j_doc, "as_of"));
  if (!j_hm) {
    const json_t *j_body = json_object_get(j_doc, "body");
    j_hm = json_object_get(j_body, "heatmap");
    as_of = json_string_value(json_object_get(j_body, "as_of"));
  }
  const json_t *j_counts = json_object_get(j_hm, "counts");
  const json_t *j_levels = json_object_get(j_hm, "levels");
  if (json_array_size(j_counts) != 5 || json_array_size(j_levels) != 5)
    return -1;
  for (size_t l = 0; l < 5; l++)
    if (json_array_size(json_array_get(j_counts, l)) != 5 ||
        json_array_size(json_array_get(j_levels, l)) != 5)
      return -1;

  tx_svg_open(out, H_W, H_H, "風險熱力圖 Risk heat map, as of ", as_of ? as_of : "", NULL);

  /* The words: every cell holding a risk, then the total. */
  fputs("<desc id=\"chart-desc\">Open risks by likelihood (1-5, rows) and impact (1-5, columns) of "
        "their latest inherent assessment; each cell is coloured and lettered by the level the "
        "risk matrix gives it.",
        out);
  long long total = 0;
  bool any = false;
  for (int l = 5; l >= 1; l--)
    for (int i = 1; i <= 5; i++) {
      long long n = json_integer_value(
        json_array_get(json_array_get(j_counts, (size_t)l - 1), (size_t)i - 1));
      const char *lev = json_string_value(
        json_array_get(json_array_get(j_levels, (size_t)l - 1), (size_t)i - 1));
      total += n;
      if (n <= 0)
        continue;
      fprintf(out, "%s likelihood %d impact %d (", any ? ";" : "", l, i);
      tx_xml_text(out, lev ? lev : "unknown");
      fprintf(out, "): %lld", n);
      any = true;
    }
  fprintf(out, "%s Total on the map: %lld.</desc>\n", any ? "." : " No assessed open risk.", total);
  tx_svg_group_open(out);

  for (int l = 5; l >= 1; l--) {
    int y = H_TOP + (5 - l) * H_CELL;
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%d</text>\n", H_LEFT - 8,
            y + H_CELL / 2 + 4, l);
    for (int i = 1; i <= 5; i++) {
      int x = H_LEFT + (i - 1) * H_CELL;
      long long n = json_integer_value(
        json_array_get(json_array_get(j_counts, (size_t)l - 1), (size_t)i - 1));
      const char *lev = json_string_value(
        json_array_get(json_array_get(j_levels, (size_t)l - 1), (size_t)i - 1));
      size_t k = level_index(lev);
      fprintf(out,
              "<g><title>likelihood %d, impact %d: ", l, i);
      tx_xml_text(out, lev ? lev : "unknown");
      fprintf(out, ", %lld risk%s</title>", n, n == 1 ? "" : "s");
      fprintf(out,
              "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#fff\""
              " stroke-width=\"2\"/>",
              x, y, H_CELL, H_CELL, k < NLEVELS ? levels[k].fill : "#e0e0e0");
      fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#555\">%s</text>", x + 5,
              y + 13, k < NLEVELS ? levels[k].letter : "?");
      if (n > 0)
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"20\""
                " font-weight=\"bold\">%lld</text>",
                x + H_CELL / 2, y + H_CELL / 2 + 7, n);
      fputs("</g>\n", out);
    }
  }
  for (int i = 1; i <= 5; i++)
    fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n",
            H_LEFT + (i - 1) * H_CELL + H_CELL / 2, H_TOP + 5 * H_CELL + 18, i);
  fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">影響 impact</text>\n",
          H_LEFT + 5 * H_CELL / 2, H_TOP + 5 * H_CELL + 40);
  fprintf(out,
          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">"
          "可能性 likelihood</text>\n",
          H_LEFT - 40, H_TOP + 5 * H_CELL / 2, H_LEFT - 40, H_TOP + 5 * H_CELL / 2);

  /* legend */
  int lx = H_LEFT + 5 * H_CELL + 30;
  for (size_t k = 0; k < NLEVELS; k++) {
    int ly = H_TOP + 10 + 28 * (int)k;
    fprintf(out,
            "<rect x=\"%d\" y=\"%d\" width=\"18\" height=\"18\" fill=\"%s\" stroke=\"#999\"/>"
            "<text x=\"%d\" y=\"%d\">%s ",
            lx, ly, levels[k].fill, lx + 26, ly + 14, levels[k].letter);
    tx_xml_text(out, levels[k].label);
    fputs("</text>\n", out);
  }
  fprintf(out, "<text x=\"%d\" y=\"%d\">合計 total: %lld</text>\n", lx, H_TOP + 10 + 28 * 4 + 14,
          total);
  tx_svg_close(out);
  return 0;
}

static const struct tx_route routes[] = {
  /* R3.1: the monitoring reports, newest first (risk officers, admin, auditors, supervisors).
   * A report list: on the read replica, where one made a moment ago may be missing yet. */
  {"GET", "/v1/risk-reports", "supervisor,risk_officer,admin,auditor", "R3.1",
   .call = TX_CALL(.sql = &sql_risk_reports_list, .read_only = true, .replica = true, .status = 200,
                   .args = {{TX_ARG_QUERY_TEXT, "kind"},
                            {TX_ARG_QUERY_INT, "limit"},
                            {TX_ARG_QUERY_TEXT, "cursor"}})},
  /* R3.1: an ad hoc report, made and stored now (the job makes the regular ones). */
  {"POST", "/v1/risk-reports", "risk_officer,admin", "R3.1",
   .call = TX_CALL(.sql = &sql_risk_reports_create, .status = 201, .location = "/v1/risk-reports/",
                   .args = {{TX_ARG_BODY, NULL}})},
  /* R3.1: a stored report, whole; its heat map as SVG with Accept: image/svg+xml. On the
   * primary: a client follows its create's Location at once. */
  {"GET", "/v1/risk-reports/{id}", "supervisor,risk_officer,admin,auditor", "R3.1",
   .call = TX_CALL(.sql = &sql_risk_reports_get, .read_only = true, .status = 200,
                   .args = {{TX_ARG_PATH_UUID, "id"}}),
   .formats = TX_FORMATS(.svg = tx_risk_heatmap_svg)},
  /* R3.1, R1.2: today's register on the 5x5 matrix, as the caller sees it; an aggregate over the
   * whole register, on the read replica (an assessment of a moment ago may be missing). */
  {"GET", "/v1/risk-heatmap", "*", "R3.1,R1.2",
   .call = TX_CALL(.sql = &sql_risk_heatmap, .read_only = true, .replica = true, .status = 200),
   .formats = TX_FORMATS(.svg = tx_risk_heatmap_svg)},
};

const struct tx_module tx_module_risk_reports = {
  .name = "risk_reports",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};

/* A report reads the whole register's history once: seconds at most; a failed run is retried (a
 * day makes one regular report). */
static const struct tx_job_kind risk_reports = {
  .name = "risk.reports",
  .sql = "SELECT risk.reports_job($1::jsonb)",
  .max_attempts = 3,
  .lease_s = 600,
};

int tx_risk_reports_register(void)
{
  return tx_jobs_register(&risk_reports) ? -1 : 0;
}
