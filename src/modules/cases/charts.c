/**
 * @file modules/cases/charts.c
 * @brief Module P: case throughput and overdue by week (issue 16, "For people"). The route is one
 * SQL API function (sql/code/cases/100_stats.sql, which says what opened, closed and overdue
 * count and whose cases are counted) answering JSON, drawn here as SVG when Accept asks for
 * image/svg+xml (core/formats.h, core/svg.h).
 *
 * The picture: per ISO week two bars, cases opened and cases closed, and a line of the cases
 * that got a deadline marked overdue that week. Colour is never the only cue: the bars differ in
 * pattern as well, the line is dashed with square points, and the legend names each; every bar
 * and point has its own <title>, and the <desc> says every week's three numbers in words.
 */
#include "core/call.h"
#include "core/formats.h"
#include "core/module.h"
#include "core/svg.h"
#include "modules/cases/cases.h"

#include <string.h>

static const struct tx_sql sql_case_stats_weekly = {
  "case_stats_weekly",
  "SELECT api.case_stats_weekly($1::date, $2::date, $3::uuid, $4::uuid)::text, NULL, NULL", 4};

/* Geometry: the plot, and the legend to its right. */
#define W_W 820
#define W_H 440
#define W_LEFT 50
#define W_TOP 50
#define W_PW 560
#define W_PH 300

/* A week's numbers, or false when the entry is not of the chart's shape. */
struct week {
  const char *label, *starts_on;
  long long opened, closed, overdue;
};

static bool week_at(const json_t *j_weeks, size_t i, struct week *w)
{
  const json_t *j_w = json_array_get(j_weeks, i);
  const json_t *j_o = json_object_get(j_w, "opened"), *j_c = json_object_get(j_w, "closed"),
               *j_x = json_object_get(j_w, "overdue");
  w->label = json_string_value(json_object_get(j_w, "week"));
  w->starts_on = json_string_value(json_object_get(j_w, "starts_on"));
  if (!w->label || !w->starts_on || !json_is_integer(j_o) || !json_is_integer(j_c) ||
      !json_is_integer(j_x))
    return false;
  w->opened = json_integer_value(j_o);
  w->closed = json_integer_value(j_c);
  w->overdue = json_integer_value(j_x);
  return w->opened >= 0 && w->closed >= 0 && w->overdue >= 0;
}

int tx_case_weekly_svg(const json_t *j_doc, FILE *out)
{
  const json_t *j_weeks = json_object_get(j_doc, "weeks");
  const char *from = json_string_value(json_object_get(j_doc, "from"));
  const char *to = json_string_value(json_object_get(j_doc, "to"));
  const char *zone = json_string_value(json_object_get(j_doc, "time_zone"));
  const char *type = json_string_value(json_object_get(j_doc, "business_type_name"));
  size_t n = json_array_size(j_weeks);
  if (!n || !from || !to || !zone)
    return -1;
  long long most = 0;
  for (size_t i = 0; i < n; i++) {
    struct week w;
    if (!week_at(j_weeks, i, &w))
      return -1;
    most = w.opened > most ? w.opened : most;
    most = w.closed > most ? w.closed : most;
    most = w.overdue > most ? w.overdue : most;
  }

  tx_svg_open(out, W_W, W_H, "案件週統計 Cases by week, ", from, " to ", to,
              type ? ", 業務類型 business type " : "", type ? type : "", NULL);
  /* The words: every week's three numbers, then the totals. */
  fputs("<desc id=\"chart-desc\">Cases per ISO week (Monday to Sunday, time zone ", out);
  tx_xml_text(out, zone);
  fputs("): bars of the cases opened (received) and closed (archived or ended) in the week, and a "
        "line of the cases with a deadline marked overdue in the week.",
        out);
  for (size_t i = 0; i < n; i++) {
    struct week w;
    week_at(j_weeks, i, &w);
    fputs(i ? "; " : " ", out);
    tx_xml_text(out, w.label);
    fprintf(out, ": opened %lld, closed %lld, overdue %lld", w.opened, w.closed, w.overdue);
  }
  const json_t *j_tot = json_object_get(j_doc, "totals");
  fprintf(out, ". Totals: opened %lld, closed %lld, overdue %lld.</desc>\n",
          (long long)json_integer_value(json_object_get(j_tot, "opened")),
          (long long)json_integer_value(json_object_get(j_tot, "closed")),
          (long long)json_integer_value(json_object_get(j_tot, "overdue")));
  /* the closed bars' pattern: diagonal hatching over their colour */
  fputs("<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\""
        " patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#2ca02c\"/>"
        "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"2\"/></pattern>"
        "</defs>\n",
        out);
  tx_svg_group_open(out);

  struct tx_svg_axis axis = {.left = W_LEFT, .top = W_TOP, .width = W_PW, .height = W_PH};
  tx_svg_axis_counts(&axis, most);
  tx_svg_axis_draw(out, &axis);

  double slot = (double)W_PW / (double)n;
  double bar = slot * 0.35;
  /* at most about 14 week labels under the axis, so that they never overlap */
  size_t every = (n + 13) / 14;
  for (size_t i = 0; i < n; i++) {
    struct week w;
    week_at(j_weeks, i, &w);
    double x = W_LEFT + slot * (double)i + slot * 0.15;
    double yo = tx_svg_axis_y(&axis, (double)w.opened), yc = tx_svg_axis_y(&axis, (double)w.closed);
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f77b4\"><title>",
            x, yo, bar, W_TOP + W_PH - yo);
    tx_xml_text(out, w.label);
    fprintf(out, " opened: %lld</title></rect>\n", w.opened);
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"url(#hatch)\""
            " stroke=\"#2ca02c\"><title>",
            x + bar, yc, bar, W_TOP + W_PH - yc);
    tx_xml_text(out, w.label);
    fprintf(out, " closed: %lld</title></rect>\n", w.closed);
    if (i % every == 0) {
      /* the week's number, e.g. W38 of 2026-W38 */
      const char *wk = strchr(w.label, 'W');
      fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x + bar, W_TOP + W_PH + 18);
      tx_xml_text(out, wk ? wk : w.label);
      fputs("</text>\n", out);
    }
  }
  fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">週 ISO week</text>\n",
          W_LEFT + W_PW / 2.0, W_TOP + W_PH + 40);

  /* overdue: a dashed line through the middle of each week, a square on each point */
  fputs("<g stroke=\"#d62728\" fill=\"#d62728\">\n<path fill=\"none\" stroke-width=\"2\""
        " stroke-dasharray=\"6 3\" d=\"",
        out);
  for (size_t i = 0; i < n; i++) {
    struct week w;
    week_at(j_weeks, i, &w);
    fprintf(out, "%s%.1f %.1f", i ? " L" : "M", W_LEFT + slot * ((double)i + 0.5),
            tx_svg_axis_y(&axis, (double)w.overdue));
  }
  fputs("\"/>\n", out);
  for (size_t i = 0; i < n; i++) {
    struct week w;
    week_at(j_weeks, i, &w);
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"6\"><title>",
            W_LEFT + slot * ((double)i + 0.5) - 3, tx_svg_axis_y(&axis, (double)w.overdue) - 3);
    tx_xml_text(out, w.label);
    fprintf(out, " overdue: %lld</title></rect>\n", w.overdue);
  }
  fputs("</g>\n", out);

  /* legend */
  int lx = W_LEFT + W_PW + 24, ly = W_TOP + 10;
  fprintf(out,
          "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"12\" fill=\"#1f77b4\"/>"
          "<text x=\"%d\" y=\"%d\">受理 opened</text>\n"
          "<rect x=\"%d\" y=\"%d\" width=\"16\" height=\"12\" fill=\"url(#hatch)\" stroke=\"#2ca02c\"/>"
          "<text x=\"%d\" y=\"%d\">結案 closed</text>\n"
          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#d62728\" stroke-width=\"2\""
          " stroke-dasharray=\"6 3\"/><text x=\"%d\" y=\"%d\">逾期 overdue</text>\n",
          lx, ly, lx + 22, ly + 11, lx, ly + 24, lx + 22, ly + 35, lx, ly + 54, lx + 16, ly + 54,
          lx + 22, ly + 58);
  tx_svg_close(out);
  return 0;
}

static const struct tx_route routes[] = {
  /* P1.1, P2.2: how many cases came in, how many ended and how many ran late, week by week, of
   * the cases the caller may see (the case list's rules; hr and risk officers see no case). */
  {"GET", "/v1/case-stats/weekly", "staff,supervisor,admin,auditor", "P1.1,P2.2",
   /* A report over weeks: a replica's lag of a moment changes nothing a reader could miss. */
   .call = TX_CALL(.sql = &sql_case_stats_weekly, .read_only = true, .replica = true, .status = 200,
                   .args = {{TX_ARG_QUERY_DATE, "from"},
                            {TX_ARG_QUERY_DATE, "to"},
                            {TX_ARG_QUERY_UUID, "business_type_id"},
                            {TX_ARG_QUERY_UUID, "department_id"}}),
   .formats = TX_FORMATS(.svg = tx_case_weekly_svg)},
};

const struct tx_module tx_module_case_charts = {
  .name = "case_charts",
  .routes = routes,
  .nroutes = TX_COUNT(routes),
};
