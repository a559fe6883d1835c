/**
 * The Prometheus text exposition format (version 0.0.4) as the metrics
 * write it: each family once, with HELP and TYPE, counters named `_total`
 * (what `promtool check metrics` asks for).
 */

/** One series family: its name, type, HELP text, and the label of a labelled family. */
export interface SeriesDef {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  label?: string;
}

/** A value: a number, or a number per label value. */
export type SeriesValue = number | Record<string, number>;

/** A program's own series (declared once) and their values, e.g. the gateway's token failures. */
export interface ExtraSeries {
  defs: Record<string, SeriesDef>;
  values: Record<string, SeriesValue>;
}

/** A label value as the format wants it (backslash, quote, newline escaped). */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class Exposition {
  private readonly lines: string[] = [];
  private readonly names = new Set<string>();

  private declare(name: string, type: string, help: string): void {
    if (this.names.has(name)) throw new Error(`metric family ${name} declared twice`);
    if (type === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
    this.names.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }

  family(def: SeriesDef, value: SeriesValue): void {
    this.declare(def.name, def.type, def.help);
    if (typeof value === 'number') this.lines.push(`${def.name} ${value}`);
    else for (const [k, n] of Object.entries(value)) this.lines.push(`${def.name}{${def.label ?? 'key'}="${label(k)}"} ${n}`);
  }

  /** A histogram from non-cumulative counts per bound (plus one for +Inf). */
  histogram(name: string, help: string, bounds: readonly number[], counts: readonly number[], sum: number, count: number): void {
    this.declare(name, 'histogram', help);
    let cum = 0;
    bounds.forEach((b, i) => {
      cum += counts[i] ?? 0;
      this.lines.push(`${name}_bucket{le="${b}"} ${cum}`);
    });
    this.lines.push(`${name}_bucket{le="+Inf"} ${count}`, `${name}_sum ${sum}`, `${name}_count ${count}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}
