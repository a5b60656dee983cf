using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FairNad.Lineage;

/// <summary>One step of a candidate's ancestry, with its metrics and their change against the parent.</summary>
public sealed record LineageStep(
    StoredCandidate Candidate,
    CandidateMetrics? Metrics,
    double? AccuracyDelta,
    long? ParameterDelta,
    IReadOnlyList<string> Diff);

/// <summary>Reads the chain from a seed architecture to a candidate (first parents), for people and for tools.</summary>
public static class LineageAudit
{
    /// <summary>The steps from the seed architecture (first) to <paramref name="candidate"/> (last).</summary>
    public static IReadOnlyList<LineageStep> Chain(LineageStore store, StoredCandidate candidate, bool withDiff)
    {
        var chain = new List<StoredCandidate> { candidate };
        var byId = store.Candidates(candidate.Run).ToDictionary(c => c.CandidateId, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal) { candidate.CandidateId };
        while (chain[^1].ParentCandidates.Count > 0)
        {
            var parent = chain[^1].ParentCandidates[0];
            if (!byId.TryGetValue(parent, out var next) || !seen.Add(parent))
            {
                throw new LineageException($"run {candidate.Run}: parent {parent} of {chain[^1].CandidateId} is missing; run `fairnad lineage verify --run {candidate.Run}`");
            }

            chain.Add(next);
        }

        chain.Reverse();
        var steps = new List<LineageStep>();
        for (var i = 0; i < chain.Count; i++)
        {
            var metrics = store.GetMetrics(candidate.Run, chain[i].Commit);
            var parentMetrics = i == 0 ? null : store.GetMetrics(candidate.Run, chain[i - 1].Commit);
            var accuracy = metrics?.ValidationAccuracy - parentMetrics?.ValidationAccuracy;
            var parameters = metrics?.Parameters - parentMetrics?.Parameters;
            var diff = withDiff && i > 0
                ? SpecDiff.Unified(store.ReadFile(chain[i - 1].Commit, LineageLayout.SpecFile), store.ReadFile(chain[i].Commit, LineageLayout.SpecFile))
                : [];
            steps.Add(new LineageStep(chain[i], metrics, accuracy, parameters, diff));
        }

        return steps;
    }

    public static string Markdown(IReadOnlyList<LineageStep> steps)
    {
        var text = new StringBuilder();
        var last = steps[^1].Candidate;
        text.Append(CultureInfo.InvariantCulture, $"# Lineage of {last.CandidateId[..12]} (run {last.Run})\n\n");
        text.Append("| # | candidate | commit | mutation | attribute | val. acc. | change | parameters | change | transcript |\n");
        text.Append("|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var step in steps)
        {
            var c = step.Candidate;
            var extra = c.ParentCandidates.Count > 1 ? $" (+ {string.Join(", ", c.ParentCandidates.Skip(1).Select(p => p[..12]))})" : string.Empty;
            text.Append(CultureInfo.InvariantCulture,
                $"| {c.Index} | `{c.CandidateId[..12]}`{extra} | `{c.Commit[..12]}` | {c.MutationType} | {c.Attribute ?? "-"} | {Format(step.Metrics?.ValidationAccuracy, "F2")} | {Signed(step.AccuracyDelta, "F2")} | {Format(step.Metrics?.Parameters, "N0")} | {Signed(step.ParameterDelta, "N0")} | {(c.Transcript is null ? "-" : $"`{Short(c.Transcript)}`")} |\n");
        }

        foreach (var step in steps.Where(s => s.Diff.Count > 0))
        {
            text.Append(CultureInfo.InvariantCulture, $"\n## {step.Candidate.Index}: {step.Candidate.Summary}\n\n```diff\n");
            foreach (var line in step.Diff)
            {
                text.Append(line).Append('\n');
            }

            text.Append("```\n");
        }

        return text.ToString();
    }

    public static string Json(IReadOnlyList<LineageStep> steps)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartArray();
            foreach (var step in steps)
            {
                var c = step.Candidate;
                w.WriteStartObject();
                w.WriteString("candidate", c.CandidateId);
                w.WriteString("commit", c.Commit);
                w.WriteString("branch", c.Branch);
                w.WriteNumber("index", c.Index);
                w.WriteString("mutationType", c.MutationType);
                w.WriteString("attribute", c.Attribute);
                w.WriteStartArray("parents");
                foreach (var p in c.ParentCandidates)
                {
                    w.WriteStringValue(p);
                }

                w.WriteEndArray();
                w.WriteString("transcript", c.Transcript);
                w.WriteString("summary", c.Summary);
                if (step.Metrics is { } m)
                {
                    w.WritePropertyName("metrics");
                    using var metrics = JsonDocument.Parse(m.ToJson());
                    metrics.RootElement.WriteTo(w);
                }
                else
                {
                    w.WriteNull("metrics");
                }

                Number(w, "accuracyDelta", step.AccuracyDelta);
                if (step.ParameterDelta is { } dp)
                {
                    w.WriteNumber("parameterDelta", dp);
                }
                else
                {
                    w.WriteNull("parameterDelta");
                }

                if (step.Diff.Count > 0)
                {
                    w.WriteStartArray("diff");
                    foreach (var line in step.Diff)
                    {
                        w.WriteStringValue(line);
                    }

                    w.WriteEndArray();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    private static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, Math.Round(v, 10));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static string Short(string transcript) => transcript.Length > 19 ? transcript[..19] : transcript;

    private static string Format(double? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "-";

    private static string Format(long? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "-";

    private static string Signed(double? value, string format) => value is { } v ? (v >= 0 ? "+" : string.Empty) + v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Signed(long? value, string format) => value is { } v ? (v >= 0 ? "+" : string.Empty) + v.ToString(format, CultureInfo.InvariantCulture) : "-";
}

/// <summary>A line diff with context (longest common subsequence), enough to show what a mutation changed in a spec.</summary>
public static class SpecDiff
{
    public static IReadOnlyList<string> Unified(string before, string after, int context = 2)
    {
        var a = before.TrimEnd('\n').Split('\n');
        var b = after.TrimEnd('\n').Split('\n');
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var edits = new List<(char Kind, string Line)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                edits.Add((' ', a[x++]));
                y++;
            }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1]))
            {
                edits.Add(('-', a[x++]));
            }
            else
            {
                edits.Add(('+', b[y++]));
            }
        }

        var keep = new bool[edits.Count];
        for (var i = 0; i < edits.Count; i++)
        {
            if (edits[i].Kind != ' ')
            {
                for (var k = Math.Max(0, i - context); k <= Math.Min(edits.Count - 1, i + context); k++)
                {
                    keep[k] = true;
                }
            }
        }

        var lines = new List<string>();
        for (var i = 0; i < edits.Count; i++)
        {
            if (!keep[i])
            {
                continue;
            }

            if (i > 0 && !keep[i - 1] && lines.Count > 0)
            {
                lines.Add("@@");
            }

            lines.Add(edits[i].Kind + edits[i].Line);
        }

        return lines;
    }
}
