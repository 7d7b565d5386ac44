// The results as a markdown table (medians, ratios to runc, targets) and an SVG bar chart.
// tsrunc-resident: bin/tsrunc with `tsrunc daemon` running (issue 17); tsrunc: the direct path.
const RUNTIMES = ['tsrunc-resident', 'tsrunc', 'runc', 'crun'];
const COLORS = { 'tsrunc-resident': '#7b1fa2', tsrunc: '#3178c6', runc: '#00a0c8', crun: '#c2185b' };
/** The figure the targets are read from: the resident path when the run has it. */
const TARGET_OF = (row) => (row.values['tsrunc-resident'] !== undefined ? 'tsrunc-resident' : 'tsrunc');

function fmt(value, unit) {
  if (unit === 'MB') return `${value.toFixed(1)} MB`;
  if (unit === 'containers/s') return `${value.toFixed(1)}/s`;
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

function cell(v, unit) {
  if (v === undefined) return '—';
  if (v.error !== undefined) return `failed¹`;
  return fmt(v.median, unit);
}

/** tsrunc's (or crun's) figure over runc's: time ratio, or runc's throughput over theirs for rates. */
export function ratio(row, name) {
  const a = row.values[name];
  const b = row.values.runc;
  if (a?.median === undefined || b?.median === undefined) return undefined;
  return row.better === 'higher' ? b.median / a.median : a.median / b.median;
}

function ratioCell(row, name) {
  const r = ratio(row, name);
  return r === undefined ? '—' : `${r.toFixed(2)}×`;
}

/** The target column: the goal, and whether this run met it (by how much it missed). */
export function verdict(row) {
  const t = row.target;
  if (t === undefined) return { text: '', met: undefined };
  if (t.ratio !== undefined) {
    const r = ratio(row, TARGET_OF(row));
    if (r === undefined) return { text: `≤ ${t.ratio.toFixed(1)}×`, met: undefined };
    const met = r <= t.ratio;
    return {
      text: `≤ ${t.ratio.toFixed(1)}×: ${met ? 'met' : `missed by ${((r / t.ratio - 1) * 100).toFixed(0)}%`}`,
      met,
    };
  }
  if (t.max !== undefined) {
    const v = row.values[TARGET_OF(row)];
    if (v?.median === undefined) return { text: `≤ ${t.max} MB`, met: undefined };
    const met = v.median <= t.max;
    return { text: `≤ ${t.max} MB: ${met ? 'met' : `missed by ${(v.median - t.max).toFixed(1)} MB`}`, met };
  }
  if (t.overNode !== undefined) {
    const v = row.values.tsrunc;
    if (v?.median === undefined || row.baseline?.median === undefined)
      return { text: `≤ node + ${t.overNode} ms`, met: undefined };
    const over = v.median - row.baseline.median;
    const met = over <= t.overNode;
    const cpu =
      v.user !== undefined && row.baseline.user !== undefined
        ? ` (CPU: node + ${(v.user + v.system - row.baseline.user - row.baseline.system).toFixed(1)} ms)`
        : '';
    return {
      text: `≤ node + ${t.overNode} ms: node + ${over.toFixed(1)} ms${cpu}, ${met ? 'met' : `missed by ${(over - t.overNode).toFixed(1)} ms`}`,
      met,
      over,
    };
  }
  return { text: '', met: undefined };
}

export function markdown(result) {
  const { machine: m, rows, cfg } = result;
  const timeRows = rows.filter((r) => r.unit !== 'MB');
  const rssRows = rows.filter((r) => r.unit === 'MB');
  const lines = [];
  lines.push(
    `- Measured ${m.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpu} (${m.cores} cores${m.hypervisor ? ', a VM' : ''}, ${m.memoryGB} GB), Linux ${m.kernel} (${m.distro}), node ${m.node}.`,
  );
  lines.push(
    `- Versions: ${Object.entries(m.versions)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}.`,
  );
  lines.push(
    `- Load average (1, 5, 15 min): ${result.load.start.join(', ')} at the start, ${result.load.end.join(', ')} at the end; the machine is shared, so read small differences as noise.`,
  );
  lines.push(
    `- Mode: ${cfg.quick ? 'quick (few runs: for development, not for comparison)' : 'full'}; hyperfine runs per figure: ${cfg.runs} (ctr: ${cfg.ctrRuns}) after ${cfg.warmup} warm-up; medians.`,
  );
  lines.push(`- crun: ${result.crunNote}.`);
  lines.push('');
  if (timeRows.length > 0) {
    lines.push(
      '| benchmark | tsrunc (resident) | tsrunc (direct) | runc | crun | resident ÷ runc | direct ÷ runc | crun ÷ runc | target (resident) |',
    );
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const row of timeRows) {
      let label = row.label;
      if (row.id === 'startup' && row.baseline?.median !== undefined)
        label += ` (bare \`node -e 0\`: ${fmt(row.baseline.median, 'ms')})`;
      lines.push(
        `| ${label} | ${RUNTIMES.map((n) => cell(row.values[n], row.unit)).join(' | ')} | ${row.id === 'startup' ? '' : ratioCell(row, 'tsrunc-resident')} | ${row.id === 'startup' ? '' : ratioCell(row, 'tsrunc')} | ${row.id === 'startup' ? '' : ratioCell(row, 'crun')} | ${verdict(row).text} |`,
      );
    }
    lines.push('');
    lines.push(
      "Ratios are to runc in the same run (for the throughput row: runc's rate over the runtime's, so above 1 is slower too).",
    );
    lines.push('');
    const cpuRows = timeRows.filter((r) => RUNTIMES.some((n) => r.values[n]?.user !== undefined));
    if (cpuRows.length > 0) {
      lines.push("CPU time per run (user + system, hyperfine's means; less sensitive to other load than wall time):");
      lines.push('');
      lines.push('| benchmark | tsrunc (resident: the front) | tsrunc (direct) | runc | crun |');
      lines.push('|---|---:|---:|---:|---:|');
      for (const row of cpuRows) {
        const cpu = (v) => (v?.user === undefined ? '—' : fmt(v.user + v.system, 'ms'));
        let label = row.label;
        if (row.id === 'startup' && row.baseline?.user !== undefined)
          label += ` (bare \`node -e 0\`: ${cpu(row.baseline)})`;
        lines.push(`| ${label} | ${RUNTIMES.map((n) => cpu(row.values[n])).join(' | ')} |`);
      }
      lines.push('');
    }
  }
  if (rssRows.length > 0) {
    lines.push(`Peak RSS (\`/usr/bin/time -v\`, median of ${cfg.rssSamples}):`);
    lines.push('');
    lines.push('| command | tsrunc (resident: the front) | tsrunc (direct) | runc | crun | target (resident) |');
    lines.push('|---|---:|---:|---:|---:|---|');
    for (const row of rssRows)
      lines.push(
        `| \`${row.id.replace('rss-', '')}\` | ${RUNTIMES.map((n) => cell(row.values[n], row.unit)).join(' | ')} | ${verdict(row).text} |`,
      );
    lines.push('');
  }
  const errors = rows.flatMap((r) =>
    RUNTIMES.filter((n) => r.values[n]?.error !== undefined).map((n) => `${r.label}, ${n}: ${r.values[n].error}`),
  );
  if (errors.length > 0) {
    lines.push('¹ Failures:');
    for (const e of errors) lines.push(`- ${e.replace(/\n/g, ' ')}`);
    lines.push('');
  }
  return lines.join('\n');
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/`/g, '');
}

/**
 * Two panels of horizontal bars: each benchmark's time relative to runc (a rate is turned into
 * time per container, so shorter is better everywhere), and each command's peak RSS.
 */
export function svg(result) {
  const { rows, machine: m } = result;
  const timeRows = rows.filter((r) => r.unit !== 'MB' && r.id !== 'startup');
  const startupRow = rows.find((r) => r.id === 'startup');
  if (startupRow !== undefined) timeRows.push(startupRow);
  const rssRows = rows.filter((r) => r.unit === 'MB');
  const W = 1000;
  const left = 300;
  const barW = W - left - 190;
  const barH = 14;
  const groupH = RUNTIMES.length * (barH + 3) + 14;
  const out = [];
  let y = 0;
  const text = (x, yy, s, attrs = '') => out.push(`<text x="${x}" y="${yy}" ${attrs}>${esc(s)}</text>`);

  y += 28;
  text(
    12,
    y,
    `tsrunc vs runc vs crun — ${m.date.slice(0, 10)}, ${m.cpu}, ${m.cores} cores, Linux ${m.kernel}, node ${m.node}`,
    'font-size="15" font-weight="bold"',
  );
  y += 20;
  text(
    12,
    y,
    `load average at start ${result.load.start.join(' / ')}; medians${result.cfg.quick ? ' (quick mode: few runs)' : ''}`,
    'font-size="12" fill="#555"',
  );
  y += 16;
  RUNTIMES.forEach((n, i) => {
    out.push(`<rect x="${12 + i * 135}" y="${y}" width="12" height="12" fill="${COLORS[n]}"/>`);
    text(30 + i * 135, y + 10, n, 'font-size="12"');
  });
  y += 30;

  if (timeRows.length > 0) {
    text(
      12,
      y,
      'Time relative to runc, log scale (shorter is better; the dashed line is runc)',
      'font-size="13" font-weight="bold"',
    );
    y += 12;
    const rel = (row, v) =>
      row.better === 'higher' ? row.values.runc.median / v.median : v.median / row.values.runc.median;
    const all = timeRows.flatMap((r) =>
      [...RUNTIMES.map((n) => r.values[n]), r.baseline]
        .filter((v) => v?.median !== undefined && r.values.runc?.median !== undefined)
        .map((v) => rel(r, v)),
    );
    const lo = Math.min(0.25, ...all) / 1.2;
    const hi = Math.max(2, ...all) * 1.6;
    const x = (r) => ((Math.log(r) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * barW;
    const top = y;
    for (const row of timeRows) {
      const bars = RUNTIMES.map((n) => [n, row.values[n], COLORS[n]]);
      if (row.baseline !== undefined) bars.push(['node -e 0', row.baseline, '#999']);
      text(12, y + 18, row.label.length > 46 ? `${row.label.slice(0, 45)}…` : row.label, 'font-size="12"');
      bars.forEach(([n, v, color], i) => {
        const by = y + 8 + i * (barH + 3);
        if (v?.median === undefined || row.values.runc?.median === undefined) {
          text(left + 4, by + barH - 3, `${n}: failed`, 'font-size="11" fill="#b00"');
          return;
        }
        const r = rel(row, v);
        out.push(
          `<rect x="${left}" y="${by}" width="${Math.max(1, x(r)).toFixed(1)}" height="${barH}" fill="${color}"/>`,
        );
        const label = `${n === 'node -e 0' ? 'bare node -e 0: ' : ''}${fmt(v.median, row.unit)}${n === 'runc' ? '' : ` (${r.toFixed(2)}×)`}`;
        text(left + x(r) + 4, by + barH - 3, label, 'font-size="11"');
      });
      y += groupH + (row.baseline !== undefined ? barH + 3 : 0);
    }
    for (const g of [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100]) {
      if (g < lo || g > hi) continue;
      out.push(
        `<line x1="${left + x(g)}" y1="${top}" x2="${left + x(g)}" y2="${y}" stroke="${g === 1 ? '#333' : '#ccc'}" stroke-dasharray="${g === 1 ? '4 3' : '2 4'}"/>`,
      );
      text(left + x(g) - 8, y + 12, `${g}×`, 'font-size="10" fill="#555"');
    }
    y += 36;
  }

  if (rssRows.length > 0) {
    text(12, y, 'Peak RSS per command (MB; the line is the 50 MB target)', 'font-size="13" font-weight="bold"');
    y += 12;
    const maxMb = Math.max(60, ...rssRows.flatMap((r) => RUNTIMES.map((n) => r.values[n]?.median ?? 0)));
    const scale = barW / maxMb;
    const top = y;
    for (const row of rssRows) {
      text(12, y + 18, row.id.replace('rss-', ''), 'font-size="12"');
      RUNTIMES.forEach((n, i) => {
        const v = row.values[n];
        const by = y + 8 + i * (barH + 3);
        if (v?.median === undefined) {
          text(left + 4, by + barH - 3, 'failed', 'font-size="11" fill="#b00"');
          return;
        }
        out.push(
          `<rect x="${left}" y="${by}" width="${Math.max(1, v.median * scale).toFixed(1)}" height="${barH}" fill="${COLORS[n]}"/>`,
        );
        text(left + v.median * scale + 4, by + barH - 3, fmt(v.median, 'MB'), 'font-size="11"');
      });
      y += groupH;
    }
    out.push(
      `<line x1="${left + 50 * scale}" y1="${top}" x2="${left + 50 * scale}" y2="${y}" stroke="#333" stroke-dasharray="4 3"/>`,
    );
    y += 16;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${y}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
