/**
 * @file core/svg.c
 * @brief The shared pieces of the SVG charts (core/svg.h).
 */
#include "core/svg.h"
#include "core/formats.h"

#include <math.h>
#include <stdarg.h>

void tx_svg_open(FILE *out, int width, int height, ...)
{
  fprintf(out,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\""
          " viewBox=\"0 0 %d %d\" role=\"img\" aria-labelledby=\"chart-title chart-desc\">\n"
          "<title id=\"chart-title\">",
          width, height, width, height);
  va_list ap;
  va_start(ap, height);
  for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
    tx_xml_text(out, s);
  va_end(ap);
  fputs("</title>\n", out);
}

void tx_svg_group_open(FILE *out)
{
  fputs("<g font-family=\"sans-serif\" font-size=\"12\" fill=\"#222\">\n", out);
}

void tx_svg_close(FILE *out)
{
  fputs("</g>\n</svg>\n", out);
}

void tx_svg_axis_counts(struct tx_svg_axis *a, long long most)
{
  long long top = most < 1 ? 1 : most;
  long long step = (top + 4) / 5;
  a->lo = 0;
  a->step = (double)step;
  a->hi = (double)(((top + step - 1) / step) * step);
}

void tx_svg_axis_range(struct tx_svg_axis *a, double min, double max)
{
  if (!(max > min)) { /* one value (or none): room around it */
    min -= 1;
    max += 1;
  }
  double raw = (max - min) / 5;
  double mag = pow(10, floor(log10(raw)));
  double f = raw / mag * (1 - 1e-9); /* 0.2 / 0.1 is 2.0000000000000004: still a step of 2 */
  a->step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  a->lo = floor(min / a->step) * a->step;
  a->hi = ceil(max / a->step) * a->step;
}

double tx_svg_axis_y(const struct tx_svg_axis *a, double v)
{
  return a->top + a->height * (1 - (v - a->lo) / (a->hi - a->lo));
}

void tx_svg_axis_draw(FILE *out, const struct tx_svg_axis *a)
{
  /* counted in steps, not summed, so that rounding never drops the top line */
  long n = lround((a->hi - a->lo) / a->step);
  for (long i = 0; i <= n; i++) {
    double v = a->lo + a->step * (double)i;
    if (fabs(v) < a->step * 1e-9)
      v = 0; /* no "-0" */
    double y = tx_svg_axis_y(a, v);
    fprintf(out,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ccc\" stroke-width=\"1\"/>"
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.10g</text>\n",
            a->left, y, a->left + a->width, y, a->left - 6, y + 4, v);
  }
}
