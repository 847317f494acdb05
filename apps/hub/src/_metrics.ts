/** Counters and gauges in Prometheus' text exposition format (version 0.0.4). */
export class Metrics {
  private readonly requests = new Map<string, number>();
  private durationSum = 0;
  private durationCount = 0;
  bytesServed = 0;
  bytesReceived = 0;
  variantHits = 0;
  variantMisses = 0;
  uploads = 0;
  commits = 0;
  inFlight = 0;

  request(method: string, route: string, status: number, seconds: number): void {
    const key = `method="${method}",route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.durationSum += seconds;
    this.durationCount++;
  }

  /** `gauges`: values read at scrape time (bytes stored, logical bytes, repos). */
  render(gauges: Readonly<Record<string, { help: string; value: number }>>): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    };
    lines.push("# HELP lowbit_hub_requests_total HTTP requests by method, route and status.");
    lines.push("# TYPE lowbit_hub_requests_total counter");
    for (const [labels, n] of [...this.requests].sort())
      lines.push(`lowbit_hub_requests_total{${labels}} ${n}`);
    lines.push("# HELP lowbit_hub_request_duration_seconds Time to answer a request, body included.");
    lines.push("# TYPE lowbit_hub_request_duration_seconds summary");
    lines.push(`lowbit_hub_request_duration_seconds_sum ${this.durationSum}`);
    lines.push(`lowbit_hub_request_duration_seconds_count ${this.durationCount}`);
    counter("lowbit_hub_bytes_served_total", "Response body bytes of file downloads.", this.bytesServed);
    counter("lowbit_hub_bytes_received_total", "File bytes received by uploads.", this.bytesReceived);
    counter(
      "lowbit_hub_variant_cache_hits_total",
      "Quantized variants served from the cache.",
      this.variantHits,
    );
    counter("lowbit_hub_variant_cache_misses_total", "Quantized variants computed.", this.variantMisses);
    counter("lowbit_hub_uploads_total", "LFS objects received.", this.uploads);
    counter("lowbit_hub_commits_total", "Commits made.", this.commits);
    lines.push("# HELP lowbit_hub_requests_in_flight Requests being answered.");
    lines.push("# TYPE lowbit_hub_requests_in_flight gauge");
    lines.push(`lowbit_hub_requests_in_flight ${this.inFlight}`);
    for (const [name, g] of Object.entries(gauges)) {
      lines.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.value}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
