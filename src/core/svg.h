/**
 * @file core/svg.h
 * @brief What every SVG chart (core/formats.h `svg` renderers) draws the same way: the document's
 * opening with its accessible name, the text group, and a value axis with its grid.
 *
 * A chart is SVG 1.1 that reads without sight: role="img" and aria-labelledby naming its <title>
 * (id chart-title) and its <desc> (id chart-desc, written by the renderer: every value the
 * picture shows, in words). No script, no external reference; every text from the data goes
 * through tx_xml_text (core/formats.h).
 */
#ifndef TX_CORE_SVG_H
#define TX_CORE_SVG_H

#include <stdio.h>

/**
 * @brief Writes the XML declaration, the <svg> root (width, height and viewBox of @p width x
 * @p height, role and aria-labelledby) and <title id="chart-title"> holding the texts given after
 * @p height, escaped, up to a NULL.
 */
void tx_svg_open(FILE *out, int width, int height, ...);

/** @brief Opens the group the drawing goes in (its font and colour of text). */
void tx_svg_group_open(FILE *out);

/** @brief Closes that group and the document. */
void tx_svg_close(FILE *out);

/** A vertical value axis: values lo (at top + height) to hi (at top), grid lines every step. */
struct tx_svg_axis {
  double lo, hi, step;
  int left, top, width, height;
};

/** @brief An axis of counts: 0 up to at least @p most (at least 1), whole steps, five at most. */
void tx_svg_axis_counts(struct tx_svg_axis *a, long long most);

/** @brief An axis holding [@p min, @p max] with a round step (1, 2 or 5 times a power of ten),
 * about five steps; a single value gets a unit's room around it. */
void tx_svg_axis_range(struct tx_svg_axis *a, double min, double max);

/** @brief The y of value @p v on the axis. */
double tx_svg_axis_y(const struct tx_svg_axis *a, double v);

/** @brief Draws the grid lines across the plot and their labels left of it. */
void tx_svg_axis_draw(FILE *out, const struct tx_svg_axis *a);

#endif
