using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CsvHelper;
using FairNad.Architecture;
using FairNad.Experiments;
using FairNad.Search;

namespace FairNad.Reports;

/// <summary>A candidate as the CSV lists it.</summary>
public sealed record CandidateRow(int Index, string Candidate, string MutationType, string? Attribute, string? Category, string Parents, string Status,
    double? Validation, double? Test, long? Parameters, long? Macs, double? LatencyMs, string? Failure, string Commit, bool OnFront);

/// <summary>Per attribute, from the journal: candidates that realised it and how they did against their parents.</summary>
public sealed record AttributeRow(string Attribute, int Candidates, int Valid, int Failed, int Improved, double? MeanAccuracyDelta, double? MeanParameterDelta, int FailedMutations);

/// <summary>What a report wrote.</summary>
public sealed record RunReport(string Run, string Directory, IReadOnlyList<string> Files);

/// <summary>
/// Writes a run's report into results/&lt;run&gt;/report/: candidates.csv, front.csv, attributes.csv, report.md, table.tex and
/// four PNG plots. Everything comes from the run folder (journal, experiment copy, manifest, feedback.json), so the
/// report regenerates identically from the recorded data.
/// </summary>
public static class RunReporter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static RunReport Write(string runDirectory, string? outDirectory = null)
    {
        var archive = new RunArchive(runDirectory);
        var run = archive.Run;
        if (!File.Exists(archive.ExperimentPath))
        {
            throw new ExperimentException($"{runDirectory} is not a run folder: {RunArchive.ExperimentCopy} is missing");
        }

        var experiment = archive.ReadExperiment();
        var entries = archive.Records;
        var manifest = archive.ReadManifest();
        var failedMutations = archive.FailedMutationsByAttribute();
        var front = archive.Front(experiment.CostObjective);
        var onFront = front.Select(f => f.Candidate).ToHashSet(StringComparer.Ordinal);
        var output = outDirectory ?? archive.ReportDirectory;
        Directory.CreateDirectory(output);
        var files = new List<string>();
        string Save(string name, string text)
        {
            var path = Path.Combine(output, name);
            File.WriteAllText(path, text);
            files.Add(path);
            return path;
        }

        var rows = entries.Select(e => Row(e, onFront.Contains(e.Candidate))).ToList();
        Save("candidates.csv", Csv(rows));
        Save("front.csv", Csv(rows.Where(r => r.OnFront).OrderBy(r => r.Parameters).ThenBy(r => r.Index)));
        var attributes = Attributes(entries, failedMutations);
        Save("attributes.csv", Csv(attributes));
        Save("table.tex", Latex(run, experiment, entries, front));
        string? operators = null;
        if (experiment.Llm.WriteOperators || OperatorArchive.OfRun(runDirectory).References().Count > 0)
        {
            // Only for a run with an operator archive, so other reports keep their text.
            var introduced = OperatorArchiveSummary.Introduced(runDirectory, entries);
            operators = OperatorArchiveSummary.Markdown(OperatorArchiveSummary.Shares(manifest, introduced), introduced);
        }

        Save("report.md", Markdown(run, experiment, manifest, entries, front, attributes, operators));
        files.AddRange(RunPlots.Write(output, run, experiment, entries, front, attributes));
        return new RunReport(run, output, files);
    }

    public static CandidateRow Row(CandidateRecord e, bool onFront) => new(e.Index, e.Candidate, e.MutationType, e.Attribute, e.Category, string.Join(";", e.Parents), e.Status,
        e.Validation, e.Test, e.Parameters, e.Macs, e.LatencyMs is { } l ? Math.Round(l, 3) : null, e.Ok ? null : $"{e.FailureCategory}: {e.FailureMessage}", e.Commit, onFront);

    /// <summary>CSV (RFC 4180 quoting by CsvHelper) in the invariant culture with "\n" newlines; the header is the record's property names in snake_case.</summary>
    public static string Csv<T>(IEnumerable<T> records)
    {
        var properties = typeof(T).GetProperties();
        using var writer = new StringWriter(Invariant) { NewLine = "\n" };
        using (var csv = CsvWriter.Create(writer, new CsvWriterOptions { NewLine = "\n", FormatProvider = Invariant }, leaveOpen: true))
        {
            csv.WriteRecord(properties.Select(p => SnakeCase(p.Name)).ToArray());
            foreach (var record in records)
            {
                csv.WriteRecord(properties.Select(p => p.GetValue(record) switch
                {
                    null => string.Empty,
                    bool b => b ? "true" : "false",
                    double d => d.ToString("R", Invariant),
                    IFormattable f => f.ToString(null, Invariant),
                    var other => other.ToString() ?? string.Empty,
                }).ToArray());
            }
        }

        return writer.ToString();
    }

    private static string SnakeCase(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : string.Empty) + char.ToLowerInvariant(c) : c.ToString()));

    public static IReadOnlyList<AttributeRow> Attributes(IReadOnlyList<CandidateRecord> entries, IReadOnlyDictionary<string, int> failedMutations)
    {
        var byId = entries.ToDictionary(e => e.Candidate, StringComparer.Ordinal);
        var names = entries.Where(e => e.Attribute is not null).Select(e => e.Attribute!).Concat(failedMutations.Keys).Distinct().Order(StringComparer.Ordinal);
        return names.Select(attribute =>
        {
            var children = entries.Where(e => e.Attribute == attribute).ToList();
            var deltas = children.Where(c => c.Ok && c.Parents.Count > 0 && byId.TryGetValue(c.Parents[0], out var p) && p.Ok)
                .Select(c => (Accuracy: c.Validation!.Value - byId[c.Parents[0]].Validation!.Value, Parameters: (double)(c.Parameters ?? 0) - (byId[c.Parents[0]].Parameters ?? 0))).ToList();
            return new AttributeRow(attribute, children.Count, children.Count(c => c.Ok), children.Count(c => !c.Ok), deltas.Count(d => d.Accuracy > 0),
                deltas.Count == 0 ? null : Math.Round(deltas.Average(d => d.Accuracy), 4), deltas.Count == 0 ? null : Math.Round(deltas.Average(d => d.Parameters), 1),
                failedMutations.GetValueOrDefault(attribute));
        }).ToList();
    }

    private static IEnumerable<CandidateRecord> Best(IReadOnlyList<CandidateRecord> entries, int count) => RunArchive.Ranked(entries).Take(count);

    public static string Latex(string run, Experiment experiment, IReadOnlyList<CandidateRecord> entries, IReadOnlyList<CandidateRecord> front)
    {
        static string Escape(string text) => text.Replace("\\", "\\textbackslash{}", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal)
            .Replace("%", "\\%", StringComparison.Ordinal).Replace("&", "\\&", StringComparison.Ordinal).Replace("#", "\\#", StringComparison.Ordinal);
        var text = new StringBuilder();
        text.Append("% Generated by `fairnad report` from the run's journal; needs \\usepackage{booktabs}.\n");
        text.Append("\\begin{table}[t]\n\\centering\n\\small\n");
        text.Append(Invariant, $"\\caption{{{Escape(run)}: {Escape(experiment.Strategy)} on {Escape(experiment.Dataset)}, seed {experiment.Seeds[0]}, {entries.Count} candidates at {experiment.ParameterBudget:N0} parameters or fewer. Top: best by validation accuracy; bottom: Pareto front (validation accuracy vs {Escape(experiment.CostObjective)}).}}\n");
        text.Append(Invariant, $"\\label{{tab:{Escape(run)}}}\n\\begin{{tabular}}{{llllrrrr}}\n\\toprule\n\\# & Candidate & Mutation & Attribute & Val. (\\%) & Test (\\%) & Params (k) & MACs (M) \\\\\n\\midrule\n");
        void Rows(IEnumerable<CandidateRecord> list)
        {
            foreach (var e in list)
            {
                text.Append(Invariant, $"{e.Index} & \\texttt{{{e.Candidate[..8]}}} & {Escape(e.MutationType)} & {Escape(e.Attribute?.Split('.').Last() ?? "--")} & {e.Validation:F2} & {e.Test:F2} & {(e.Parameters ?? 0) / 1000.0:F1} & {(e.Macs ?? 0) / 1e6:F2} \\\\\n");
            }
        }

        Rows(Best(entries, 5));
        text.Append("\\midrule\n");
        Rows(front);
        text.Append("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
        return text.ToString();
    }

    public static string Markdown(string run, Experiment experiment, JsonNode? manifest, IReadOnlyList<CandidateRecord> entries, IReadOnlyList<CandidateRecord> front, IReadOnlyList<AttributeRow> attributes,
        string? operators = null)
    {
        var text = new StringBuilder();
        text.Append(Invariant, $"# Report: {run}\n\n");
        text.Append(Invariant, $"{experiment.Strategy} on {experiment.Dataset}, seed {experiment.Seeds[0]}, budget {experiment.ParameterBudget:N0} parameters; {entries.Count} candidates, {entries.Count(e => !e.Ok)} failed. ");
        text.Append(Invariant, $"Fidelity: {experiment.Fidelity.Epochs} epoch(s) on {experiment.Fidelity.TrainSubset?.ToString("N0", Invariant) ?? "all"} images, device {experiment.Fidelity.Device}.\n\n");
        if (manifest is not null)
        {
            text.Append(Invariant, $"Harness commit `{manifest["harness"]?["commit"]?.ToString() ?? "unknown"}`, TorchSharp {manifest["torch"]?["torchSharp"]}, {manifest["torch"]?["libtorch"]}, ");
            text.Append(Invariant, $"data {manifest["dataset"]?["source"]}, LLM {manifest["llm"]?["mode"]} ({manifest["llm"]?["model"]}{(manifest["llm"]?["digest"] is { } d ? $", {d}" : string.Empty)}); experiment sha256 `{manifest["experiment"]?["sha256"]}`.\n\n");
        }

        static string Line(CandidateRecord e) => string.Create(CultureInfo.InvariantCulture,
            $"| {e.Index} | `{e.Candidate[..12]}` | {e.MutationType} | {e.Attribute ?? "-"} | {e.Validation:F2} | {e.Test:F2} | {e.Parameters:N0} | {e.Macs:N0} | `{e.Commit[..10]}` |\n");
        const string header = "| # | candidate | mutation | attribute | validation % | test % | parameters | MACs | commit |\n|---|---|---|---|---|---|---|---|---|\n";
        text.Append("## Best by validation accuracy\n\n").Append(header);
        foreach (var e in Best(entries, 5))
        {
            text.Append(Line(e));
        }

        text.Append(Invariant, $"\n## Pareto front (validation accuracy vs {experiment.CostObjective})\n\n").Append(header);
        foreach (var e in front)
        {
            text.Append(Line(e));
        }

        if (attributes.Count > 0)
        {
            text.Append("\n## Attributes\n\n| attribute | candidates | valid | failed | improved on parent | mean accuracy change | mean parameter change | mutations that produced no candidate |\n|---|---|---|---|---|---|---|---|\n");
            foreach (var a in attributes)
            {
                text.Append(Invariant, $"| {a.Attribute} | {a.Candidates} | {a.Valid} | {a.Failed} | {a.Improved} | {(a.MeanAccuracyDelta is { } d ? d.ToString("+0.00;-0.00;0.00", Invariant) : "-")} | {(a.MeanParameterDelta is { } p ? p.ToString("+0;-0;0", Invariant) : "-")} | {a.FailedMutations} |\n");
            }
        }

        text.Append(operators ?? string.Empty);
        text.Append("\n## Figures\n\n![accuracy vs parameters](accuracy-vs-parameters.png)\n![best so far](best-so-far.png)\n![attributes](attributes.png)\n![lineage of the best candidate](lineage.png)\n");
        text.Append("\nFiles: candidates.csv, front.csv, attributes.csv (CSV, invariant culture), table.tex (booktabs). Regenerate with `./build.sh Report --run ").Append(run).Append("`.\n");
        return text.ToString();
    }
}
