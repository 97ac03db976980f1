"""The token's clock: `sync-time` (set it, measure the drift) and
`calibrate` (trim the drift now)."""


def sync_time_arguments(p):
    p.add_argument("--no-trim", action="store_true",
                   help="don't let the token adjust its RTC aging offset from the drift "
                        "measured since the last sync (it does so when that was a day or more ago)")


def run_sync_time(args, connect):
    with connect() as client:
        data = client.sync_time(trim="never" if args.no_trim else "auto")
    before = data["offset_before_ms"]
    lines = [
        "offset before: %s" % ("unknown (the token's clock was lost)" if before is None
                               else "%+.1f ms" % before),
        "offset after:  %+.1f ms" % data["offset_after_ms"],
        "round trip:    %.1f ms" % data["rtt_ms"]]
    if data.get("measured_ppm") is not None:
        lines.append("drift since the last sync: %+.2f ppm" % data["measured_ppm"])
    lines.extend(trim_lines(data.get("trimmed")))
    return data, "\n".join(lines)


def trim_lines(trimmed):
    if not trimmed:
        return []
    return ["aging offset trimmed: %+d -> %+d (%+.2f ppm left)"
            % (trimmed["from"], trimmed["to"], trimmed["drift_ppm"])]


def run_calibrate(args, connect):
    with connect() as client:
        data = client.calibrate()
    return data, "\n".join(trim_lines(data.get("trimmed")) or
                          ["drift is within one aging step: nothing to trim"])
