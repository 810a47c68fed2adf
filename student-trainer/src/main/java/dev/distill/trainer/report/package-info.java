/**
 * The offline HTML report: tables and inline SVG charts, no script and no CDN link, so the page
 * opens from the run folder alone.
 */
package dev.distill.trainer.report;
