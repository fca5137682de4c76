/**
 * @file modules/risk/kri_trend.c
 * @brief Module R: a key risk indicator's values over time (R3.2; issue 16, "For people": KPI
 * trends), the SVG of GET /v1/kris/{id}/trend (route row in kris.c, data from
 * sql/code/risk/055_kri_trend.sql). The SQL decides what the caller may see; this file only draws.
 *
 * The picture: the values on a time axis from the start of `from` to the end of `to`, joined by a
 * line; each point's shape says its band (circle normal, triangle warning, square critical, a
 * ring when no threshold was set), so colour is never the only cue; today's warning and critical
 * thresholds are dashed lines, labelled. The <desc> says every value with its time and band.
 */
#include "core/formats.h"
#include "core/svg.h"
#include "modules/risk/risk.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Geometry */
#define K_W 860
#define K_H 440
#define K_LEFT 70
#define K_TOP 50
#define K_PW 560
#define K_PH 300

/* Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long)doe - 719468;
}

/* Seconds since the epoch of a timestamp as api.ts writes it (YYYY-MM-DDTHH:MM:SS.mmmZ, UTC);
 * false when it is not one. */
static bool instant(const char *s, double *t)
{
  int y, mo, d, h, mi, sec, ms, used = 0;
  if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec, &ms, &used) != 7 ||
      s[used] || mo < 1 || mo > 12 || d < 1 || d > 31)
    return false;
  *t = (double)days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400.0 + h * 3600.0 + mi * 60.0 +
       sec + ms / 1000.0;
  return true;
}

static const struct {
  const char *band, *label;
} bands[] = {
  {"normal", "正常 normal"},
  {"warning", "預警 warning"},
  {"critical", "嚴重 critical"},
  {"unset", "未設 no threshold"},
};

/* One point's shape at (x, y), by band, with its <title> when @p at is given (not in the legend). */
static void point(FILE *out, double x, double y, const char *band, const char *at, double v)
{
  if (!strcmp(band, "critical"))
    fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"#d62728\">", x - 4,
            y - 4);
  else if (!strcmp(band, "warning"))
    fprintf(out, "<path d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f Z\" fill=\"#ff7f0e\">", x, y - 5,
            x + 5, y + 4, x - 5, y + 4);
  else if (!strcmp(band, "normal"))
    fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#1f77b4\">", x, y);
  else
    fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#fff\" stroke=\"#555\">", x, y);
  if (at) {
    fputs("<title>", out);
    tx_xml_text(out, at);
    fprintf(out, ": %.10g (", v);
    tx_xml_text(out, band);
    fputs(")</title>", out);
  }
  fputs(!strcmp(band, "critical") ? "</rect>\n" : !strcmp(band, "warning") ? "</path>\n" : "</circle>\n",
        out);
}

int tx_kri_trend_svg(const json_t *j_doc, FILE *out)
{
  const json_t *j_kri = json_object_get(j_doc, "kri");
  const json_t *j_points = json_object_get(j_doc, "points");
  const char *code = json_string_value(json_object_get(j_kri, "code"));
  const char *name = json_string_value(json_object_get(j_kri, "name"));
  const char *unit = json_string_value(json_object_get(j_kri, "unit"));
  const char *from = json_string_value(json_object_get(j_doc, "from"));
  const char *to = json_string_value(json_object_get(j_doc, "to"));
  double t0, t1;
  if (!code || !name || !unit || !from || !to || !json_is_array(j_points) ||
      !instant(json_string_value(json_object_get(j_doc, "starts_at")), &t0) ||
      !instant(json_string_value(json_object_get(j_doc, "ends_at")), &t1) || !(t1 > t0))
    return -1;
  size_t n = json_array_size(j_points);
  const json_t *j_thr = json_object_get(j_kri, "thresholds");
  const json_t *j_warn = json_object_get(j_thr, "warning"), *j_crit = json_object_get(j_thr, "critical");
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    const json_t *j_p = json_array_get(j_points, i);
    const json_t *j_v = json_object_get(j_p, "value");
    double t;
    if (!json_is_number(j_v) || !json_string_value(json_object_get(j_p, "band")) ||
        !instant(json_string_value(json_object_get(j_p, "measured_at")), &t))
      return -1;
    double v = json_number_value(j_v);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  /* the thresholds are on the axis too: a reader sees how far the values are from them */
  for (const json_t *j_t = j_warn; j_t; j_t = j_t == j_warn ? j_crit : NULL)
    if (json_is_number(j_t)) {
      double v = json_number_value(j_t);
      lo = v < lo ? v : lo;
      hi = v > hi ? v : hi;
    }
  if (lo > hi) /* nothing to place: an axis from 0 to 1 */
    lo = 0, hi = 1;

  tx_svg_open(out, K_W, K_H, "風險指標趨勢 Indicator trend: ", name, " (", code, "), ", from, " to ",
              to, NULL);
  fputs("<desc id=\"chart-desc\">Values of the indicator in ", out);
  tx_xml_text(out, unit);
  fputs(" over time, oldest first, each with the band it fell in when measured", out);
  if (json_is_number(j_warn) && json_is_number(j_crit))
    fprintf(out, "; thresholds today: warning %.10g, critical %.10g", json_number_value(j_warn),
            json_number_value(j_crit));
  else
    fputs("; no thresholds set today", out);
  long long total = json_integer_value(json_object_get(j_doc, "total"));
  if (!n)
    fputs(". No measurement in the range.", out);
  else if (total > (long long)n)
    fprintf(out, ". The latest %zu of %lld measurements:", n, total);
  else
    fprintf(out, ". %zu measurement%s:", n, n == 1 ? "" : "s");
  for (size_t i = 0; i < n; i++) {
    const json_t *j_p = json_array_get(j_points, i);
    fputs(i ? "; " : " ", out);
    tx_xml_text(out, json_string_value(json_object_get(j_p, "measured_at")));
    fprintf(out, " %.10g (", json_number_value(json_object_get(j_p, "value")));
    tx_xml_text(out, json_string_value(json_object_get(j_p, "band")));
    fputs(")", out);
  }
  fputs(n ? ".</desc>\n" : "</desc>\n", out);
  tx_svg_group_open(out);

  struct tx_svg_axis axis = {.left = K_LEFT, .top = K_TOP, .width = K_PW, .height = K_PH};
  tx_svg_axis_range(&axis, lo, hi);
  tx_svg_axis_draw(out, &axis);
  fprintf(out, "<text x=\"14\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">",
          K_TOP + K_PH / 2, K_TOP + K_PH / 2);
  tx_xml_text(out, unit);
  fputs("</text>\n", out);
  /* the dates at both ends of the time axis */
  fprintf(out, "<text x=\"%d\" y=\"%d\">", K_LEFT, K_TOP + K_PH + 36);
  tx_xml_text(out, from);
  fprintf(out, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">", K_LEFT + K_PW,
          K_TOP + K_PH + 36);
  tx_xml_text(out, to);
  fputs("</text>\n", out);

  /* today's thresholds */
  const struct {
    const json_t *j;
    const char *colour, *label;
  } lines[] = {{j_warn, "#ff7f0e", "預警 warning"}, {j_crit, "#d62728", "嚴重 critical"}};
  for (size_t i = 0; i < 2; i++)
    if (json_is_number(lines[i].j)) {
      double y = tx_svg_axis_y(&axis, json_number_value(lines[i].j));
      fprintf(out,
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\""
              " stroke-dasharray=\"%s\"/><text x=\"%d\" y=\"%.1f\" fill=\"%s\">%s %.10g</text>\n",
              K_LEFT, y, K_LEFT + K_PW, y, lines[i].colour, i ? "8 3 2 3" : "4 3",
              K_LEFT + K_PW + 6, y + 4, lines[i].colour, lines[i].label,
              json_number_value(lines[i].j));
    }

  /* the values: a line through them, then the points on top */
  if (n) {
    fputs("<path fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" d=\"", out);
    for (size_t i = 0; i < n; i++) {
      const json_t *j_p = json_array_get(j_points, i);
      double t;
      instant(json_string_value(json_object_get(j_p, "measured_at")), &t);
      double x = K_LEFT + K_PW * fmin(1, fmax(0, (t - t0) / (t1 - t0)));
      fprintf(out, "%s%.1f %.1f", i ? " L" : "M", x,
              tx_svg_axis_y(&axis, json_number_value(json_object_get(j_p, "value"))));
    }
    fputs("\"/>\n", out);
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *j_p = json_array_get(j_points, i);
    const char *at = json_string_value(json_object_get(j_p, "measured_at"));
    double t;
    instant(at, &t);
    double v = json_number_value(json_object_get(j_p, "value"));
    point(out, K_LEFT + K_PW * fmin(1, fmax(0, (t - t0) / (t1 - t0))), tx_svg_axis_y(&axis, v),
          json_string_value(json_object_get(j_p, "band")), at, v);
  }

  /* legend: the shapes */
  int lx = K_LEFT + K_PW + 100;
  for (size_t i = 0; i < sizeof bands / sizeof bands[0]; i++) {
    int ly = K_TOP + 10 + 24 * (int)i;
    fputs("<g>", out);
    point(out, lx, ly, bands[i].band, NULL, 0);
    fprintf(out, "<text x=\"%d\" y=\"%d\">", lx + 12, ly + 4);
    tx_xml_text(out, bands[i].label);
    fputs("</text></g>\n", out);
  }
  tx_svg_close(out);
  return 0;
}
