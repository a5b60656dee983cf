using System.Globalization;
using System.Text;
using FairNad.Experiments;
using FairNad.Search;
using ScottPlot;

namespace FairNad.Reports;

/// <summary>One point of a run's anytime curve: after <see cref="Candidates"/> distinct candidates, the best so far (by the run's own ranking) and its test accuracy.</summary>
public sealed record AnytimePoint(string Strategy, int Seed, int Candidates, double BestValidation, double? TestOfBest);

/// <summary>A strategy's anytime curve over its seeds at one candidate count: mean and range (the band) of the best validation accuracy and of its test accuracy.</summary>
public sealed record AnytimeBand(string Strategy, int Candidates, int Seeds, double MeanValidation, double MinValidation, double MaxValidation, double? MeanTest, double? MinTest, double? MaxTest);

/// <summary>One run's end result: its best candidate (validation, test, size), the training time it recorded (its candidates' train seconds; CPU time with one thread per worker on an idle machine) and how deep its candidates are.</summary>
public sealed record FinalRow(string Run, string Strategy, int Seed, int Candidates, int Failed, double? BestValidation, double? TestOfBest, long? ParametersOfBest, string? BestCandidate,
    double TrainHours, double? MeanEditDepth, int? MaxEditDepth);

/// <summary>
/// A paired comparison of two strategies' final test accuracy on the seeds both ran: Wilcoxon signed-rank, with the exact
/// two-sided p (all 2^n sign assignments of the ranks) beside the normal approximation, and the smallest p the pairs could give.
/// </summary>
public sealed record PairedTest(string Strategy, string Versus, int Pairs, int NonZero, double MeanDifference, double WPlus, double ExactP, double SmallestPossibleP, double NormalP);

/// <summary>Per strategy and mutation type (seed, random, mutation, fair-idea, pareto, llm): candidates, valid ones, and how their rung-0 validation compares with their parent's.</summary>
public sealed record MutationTypeRow(string Strategy, string MutationType, int Candidates, int Valid, int WithParent, int Improved, double? MeanAccuracyDelta, double? MeanParameterDelta);

/// <summary>Per strategy and attribute, summed over seeds (<see cref="RunReporter.Attributes"/> of each run).</summary>
public sealed record StrategyAttributeRow(string Strategy, string Attribute, int Candidates, int Valid, int Failed, int Improved, double? MeanAccuracyDelta);

/// <summary>How many candidates of a strategy are how many edits from their seed (0 for a seed; unknown depths are left out).</summary>
public sealed record DepthRow(string Strategy, int Depth, int Candidates);

/// <summary>A member of a run's accuracy/cost front, for the overlaid fronts.</summary>
public sealed record FrontRow(string Strategy, int Seed, string Candidate, long? Cost, double? Validation, double? Test);

/// <summary>
/// Compares strategies over run folders of one experiment (e.g. fairnad, rea and random, each with seeds 0-2): anytime
/// curves of the best validation accuracy and its test accuracy against candidates with seed bands, final test accuracy with
/// paired Wilcoxon tests between every two strategies, the accuracy/cost fronts overlaid, mutation-type, attribute and
/// edit-depth statistics. Everything comes from the recorded run folders, so the comparison regenerates identically.
/// Written as comparison.md, comparison.tex, CSV files and PNG plots.
/// </summary>
public static class StrategyComparison
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>One run as the comparison reads it.</summary>
    public sealed record RunData(string Run, string Strategy, int Seed, Experiment Experiment, IReadOnlyList<CandidateRecord> Evaluations, IReadOnlyList<CandidateRecord> Records);

    /// <summary>Everything the comparison computed.</summary>
    public sealed record Comparison(
        IReadOnlyList<RunData> Runs,
        IReadOnlyList<AnytimePoint> Anytime,
        IReadOnlyList<AnytimeBand> Bands,
        IReadOnlyList<FinalRow> Final,
        IReadOnlyList<PairedTest> Tests,
        IReadOnlyList<FrontRow> Fronts,
        IReadOnlyList<MutationTypeRow> MutationTypes,
        IReadOnlyList<StrategyAttributeRow> Attributes,
        IReadOnlyList<DepthRow> Depths)
    {
        public IReadOnlyList<string> Strategies => [.. Runs.Select(r => r.Strategy).Distinct().Order(StringComparer.Ordinal)];
    }

    /// <summary>Reads the runs and computes the comparison.</summary>
    /// <exception cref="ExperimentException">a folder is no run, the runs are of different datasets, budgets or cost objectives, or a strategy has a seed twice.</exception>
    public static Comparison Compare(IEnumerable<string> runDirectories)
    {
        var runs = runDirectories.Select(Read).ToList();
        if (runs.Count == 0)
        {
            throw new ExperimentException("name at least one run to compare");
        }

        foreach (var (what, values) in new (string, IEnumerable<string>)[]
        {
            ("datasets", runs.Select(r => r.Experiment.Dataset)),
            ("parameter budgets", runs.Select(r => r.Experiment.ParameterBudget.ToString(Invariant))),
            ("cost objectives", runs.Select(r => r.Experiment.CostObjective)),
        })
        {
            if (values.Distinct(StringComparer.Ordinal).Count() > 1)
            {
                throw new ExperimentException($"the runs have different {what} ({string.Join(", ", values.Distinct(StringComparer.Ordinal))}); compare runs of one experiment");
            }
        }

        if (runs.GroupBy(r => (r.Strategy, r.Seed)).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new ExperimentException($"strategy {twice.Key.Strategy} has seed {twice.Key.Seed} twice ({string.Join(", ", twice.Select(r => r.Run))}); name one run per strategy and seed");
        }

        runs = [.. runs.OrderBy(r => r.Strategy, StringComparer.Ordinal).ThenBy(r => r.Seed)];
        var cost = runs[0].Experiment.CostObjective;
        var anytime = runs.SelectMany(AnytimeOf).ToList();
        var depths = runs.ToDictionary(r => r.Run, r => EditDepths(r.Records), StringComparer.Ordinal);
        var final = runs.Select(r =>
        {
            var best = RunArchive.BestOf(r.Records);
            var known = depths[r.Run].Values.Where(d => d is not null).Select(d => (double)d!.Value).ToList();
            return new FinalRow(r.Run, r.Strategy, r.Seed, r.Records.Count, r.Records.Count(e => !e.Ok), best?.Validation, best?.Test, best?.Parameters, best?.Candidate,
                Math.Round(r.Evaluations.Sum(e => e.TrainSeconds) / 3600, 4), known.Count == 0 ? null : Math.Round(known.Average(), 3), known.Count == 0 ? null : (int)known.Max());
        }).ToList();
        var fronts = runs.SelectMany(r => RunArchive.Front(r.Records, cost).Select(f => new FrontRow(r.Strategy, r.Seed, f.Candidate, f.Cost(cost), f.Validation, f.Test))).ToList();
        var attributes = runs.GroupBy(r => r.Strategy).SelectMany(g => g.SelectMany(r => RunReporter.Attributes(r.Records, new Dictionary<string, int>()))
            .GroupBy(a => a.Attribute).OrderBy(a => a.Key, StringComparer.Ordinal).Select(a =>
            {
                var withDelta = a.Where(x => x.MeanAccuracyDelta is not null).ToList();
                return new StrategyAttributeRow(g.Key, a.Key, a.Sum(x => x.Candidates), a.Sum(x => x.Valid), a.Sum(x => x.Failed), a.Sum(x => x.Improved),
                    withDelta.Count == 0 ? null : Math.Round(withDelta.Average(x => x.MeanAccuracyDelta!.Value), 4));
            })).ToList();
        var depthRows = runs.GroupBy(r => r.Strategy).SelectMany(g => g.SelectMany(r => depths[r.Run].Values).Where(d => d is not null)
            .GroupBy(d => d!.Value).OrderBy(d => d.Key).Select(d => new DepthRow(g.Key, d.Key, d.Count()))).ToList();
        return new Comparison(runs, anytime, Bands(anytime), final, Tests(final), fronts, MutationTypeRows(runs), attributes, depthRows);
    }

    private static RunData Read(string directory)
    {
        var archive = new RunArchive(directory);
        if (!File.Exists(archive.ExperimentPath))
        {
            throw new ExperimentException($"{directory} is not a run folder: {RunArchive.ExperimentCopy} is missing");
        }

        var experiment = archive.ReadExperiment();
        var evaluations = archive.Evaluations.Where(e => !e.IsNoise).ToList();
        return new RunData(archive.Run, experiment.Strategy, experiment.Seeds[0], experiment, evaluations, archive.Records);
    }

    /// <summary>
    /// The run's anytime curve: after each journal line, the best of the latest evaluation of every candidate so far (by
    /// <see cref="RunArchive.BestOf"/>: a higher rung outranks a lower one), against the number of distinct candidates so
    /// far; a promotion updates the point of the count it happened at.
    /// </summary>
    public static IReadOnlyList<AnytimePoint> AnytimeOf(RunData run)
    {
        var latest = new Dictionary<string, CandidateRecord>(StringComparer.Ordinal);
        var points = new SortedDictionary<int, AnytimePoint>();
        foreach (var e in run.Evaluations)
        {
            latest[e.Candidate] = e;
            if (RunArchive.BestOf(latest.Values) is { Validation: { } validation } best)
            {
                points[latest.Count] = new AnytimePoint(run.Strategy, run.Seed, latest.Count, validation, best.Test);
            }
        }

        return [.. points.Values];
    }

    /// <summary>Per strategy and candidate count up to the shortest of its runs' curves: mean and range over seeds; a count a run has no point at takes its last point before.</summary>
    private static IReadOnlyList<AnytimeBand> Bands(IReadOnlyList<AnytimePoint> anytime)
    {
        var bands = new List<AnytimeBand>();
        foreach (var strategy in anytime.GroupBy(p => p.Strategy).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var curves = strategy.GroupBy(p => p.Seed).Select(g => g.OrderBy(p => p.Candidates).ToList()).ToList();
            var start = curves.Max(c => c[0].Candidates);
            var end = curves.Min(c => c[^1].Candidates);
            for (var n = start; n <= end; n++)
            {
                var at = curves.Select(c => c.Last(p => p.Candidates <= n)).ToList();
                var tests = at.Where(p => p.TestOfBest is not null).Select(p => p.TestOfBest!.Value).ToList();
                bands.Add(new AnytimeBand(strategy.Key, n, at.Count, Math.Round(at.Average(p => p.BestValidation), 4), at.Min(p => p.BestValidation), at.Max(p => p.BestValidation),
                    tests.Count == 0 ? null : Math.Round(tests.Average(), 4), tests.Count == 0 ? null : tests.Min(), tests.Count == 0 ? null : tests.Max()));
            }
        }

        return bands;
    }

    /// <summary>Every two strategies, paired by seed on the final test accuracy of each run's best candidate.</summary>
    private static IReadOnlyList<PairedTest> Tests(IReadOnlyList<FinalRow> final)
    {
        var strategies = final.Select(f => f.Strategy).Distinct().Order(StringComparer.Ordinal).ToList();
        var tests = new List<PairedTest>();
        for (var i = 0; i < strategies.Count; i++)
        {
            for (var j = i + 1; j < strategies.Count; j++)
            {
                var pairs = final.Where(f => f.Strategy == strategies[i] && f.TestOfBest is not null)
                    .Join(final.Where(f => f.Strategy == strategies[j] && f.TestOfBest is not null), f => f.Seed, f => f.Seed, (a, b) => (A: a.TestOfBest!.Value, B: b.TestOfBest!.Value))
                    .ToList();
                if (pairs.Count == 0)
                {
                    continue;
                }

                var a = pairs.Select(p => p.A).ToList();
                var b = pairs.Select(p => p.B).ToList();
                var w = Statistics.Wilcoxon(a, b);
                var (exact, smallest) = Statistics.WilcoxonExact(a, b);
                tests.Add(new PairedTest(strategies[i], strategies[j], pairs.Count, w.N, Math.Round(pairs.Average(p => p.A - p.B), 4), w.WPlus, exact, smallest, w.P));
            }
        }

        return tests;
    }

    /// <summary>Edit depth of each candidate: 0 for a seed, a random sample's recorded edits, a child's parent's depth plus one; null when unknown (an older run's random sample).</summary>
    public static IReadOnlyDictionary<string, int?> EditDepths(IReadOnlyList<CandidateRecord> records)
    {
        var byId = records.ToDictionary(r => r.Candidate, StringComparer.Ordinal);
        var depths = new Dictionary<string, int?>(StringComparer.Ordinal);
        int? Depth(CandidateRecord r)
        {
            if (depths.TryGetValue(r.Candidate, out var known))
            {
                return known;
            }

            depths[r.Candidate] = null; // a cycle cannot occur in a journal, but must not recurse forever
            int? depth = r.MutationType == MutationTypes.Seed ? 0
                : r.Parents.Count > 0 ? (byId.TryGetValue(r.Parents[0], out var parent) ? Depth(parent) + 1 : null)
                : ArchitectureSpace.SampleDepth(r.Summary);
            depths[r.Candidate] = depth;
            return depth;
        }

        foreach (var r in records.OrderBy(r => r.Index))
        {
            Depth(r);
        }

        return depths;
    }

    private static IReadOnlyList<MutationTypeRow> MutationTypeRows(IReadOnlyList<RunData> runs)
    {
        var rows = new List<MutationTypeRow>();
        foreach (var strategy in runs.GroupBy(r => r.Strategy))
        {
            // Child and parent compared at their first (rung-0) evaluation, so a promotion does not count as an improvement.
            var firsts = strategy.SelectMany(r => r.Evaluations.Where(e => e.Rung == 0).Select(e => (Run: r.Run, Record: e))).ToList();
            var byKey = firsts.ToDictionary(f => (f.Run, f.Record.Candidate), f => f.Record);
            foreach (var type in firsts.GroupBy(f => f.Record.MutationType).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var deltas = type.Where(f => f.Record.Ok && f.Record.Parents.Count > 0 && byKey.TryGetValue((f.Run, f.Record.Parents[0]), out var p) && p.Ok)
                    .Select(f => (Accuracy: f.Record.Validation!.Value - byKey[(f.Run, f.Record.Parents[0])].Validation!.Value,
                        Parameters: (double)(f.Record.Parameters ?? 0) - (byKey[(f.Run, f.Record.Parents[0])].Parameters ?? 0))).ToList();
                rows.Add(new MutationTypeRow(strategy.Key, type.Key, type.Count(), type.Count(f => f.Record.Ok), deltas.Count, deltas.Count(d => d.Accuracy > 0),
                    deltas.Count == 0 ? null : Math.Round(deltas.Average(d => d.Accuracy), 4), deltas.Count == 0 ? null : Math.Round(deltas.Average(d => d.Parameters), 1)));
            }
        }

        return [.. rows.OrderBy(r => r.Strategy, StringComparer.Ordinal).ThenBy(r => r.MutationType, StringComparer.Ordinal)];
    }

    /// <summary>Writes the comparison of <paramref name="runDirectories"/> into <paramref name="outDirectory"/>; returns the files written.</summary>
    /// <exception cref="ExperimentException">see <see cref="Compare"/>.</exception>
    public static IReadOnlyList<string> Write(IEnumerable<string> runDirectories, string outDirectory)
    {
        var comparison = Compare(runDirectories);
        Directory.CreateDirectory(outDirectory);
        var files = new List<string>();
        void Save(string name, string text)
        {
            var path = Path.Combine(outDirectory, name);
            File.WriteAllText(path, text);
            files.Add(path);
        }

        Save("comparison.md", Markdown(comparison));
        Save("comparison.tex", Latex(comparison));
        Save("final.csv", RunReporter.Csv(comparison.Final));
        Save("tests.csv", RunReporter.Csv(comparison.Tests));
        Save("anytime.csv", RunReporter.Csv(comparison.Anytime));
        Save("anytime-bands.csv", RunReporter.Csv(comparison.Bands));
        Save("fronts.csv", RunReporter.Csv(comparison.Fronts));
        Save("mutation-types.csv", RunReporter.Csv(comparison.MutationTypes));
        Save("attributes.csv", RunReporter.Csv(comparison.Attributes));
        Save("edit-depths.csv", RunReporter.Csv(comparison.Depths));
        files.AddRange(Plots(comparison, outDirectory));
        return files;
    }

    private static string Format(double? value, string format = "F2") => value is { } v ? v.ToString(format, Invariant) : "-";

    public static string Markdown(Comparison c)
    {
        var e = c.Runs[0].Experiment;
        var text = new StringBuilder("# Strategy comparison\n\n");
        text.Append(Invariant, $"{c.Runs.Count} runs on {e.Dataset}, {e.ParameterBudget:N0} parameters or fewer, cost objective {e.CostObjective}: ");
        text.Append(string.Join("; ", c.Strategies.Select(s => $"{s} (seeds {string.Join(", ", c.Runs.Where(r => r.Strategy == s).Select(r => r.Seed))})"))).Append(".\n\n");
        text.Append("## Final result of each run\n\nThe best candidate by the run's own ranking (validation accuracy, a higher ladder rung first) and its test accuracy.\n\n");
        text.Append("| strategy | seed | candidates | failed | best validation % | its test % | parameters | training hours | mean / max edit depth |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var f in c.Final)
        {
            text.Append(Invariant, $"| {f.Strategy} | {f.Seed} | {f.Candidates} | {f.Failed} | {Format(f.BestValidation)} | {Format(f.TestOfBest)} | {f.ParametersOfBest:N0} | {f.TrainHours:F2} | {Format(f.MeanEditDepth, "F1")} / {f.MaxEditDepth?.ToString(Invariant) ?? "-"} |\n");
        }

        text.Append("\n| strategy | runs | best validation % (mean +- std) | its test % (mean +- std) | training hours (sum) |\n|---|---|---|---|---|\n");
        foreach (var s in c.Strategies)
        {
            var rows = c.Final.Where(f => f.Strategy == s).ToList();
            var v = rows.Where(f => f.BestValidation is not null).Select(f => f.BestValidation!.Value).ToList();
            var t = rows.Where(f => f.TestOfBest is not null).Select(f => f.TestOfBest!.Value).ToList();
            text.Append(Invariant, $"| {s} | {rows.Count} | {Statistics.Mean(v):F2} +- {Statistics.StandardDeviation(v):F2} | {Statistics.Mean(t):F2} +- {Statistics.StandardDeviation(t):F2} | {rows.Sum(f => f.TrainHours):F2} |\n");
        }

        text.Append("\n## Paired tests of the final test accuracy\n\nWilcoxon signed-rank on the seeds both strategies ran (difference = first minus second). ");
        text.Append("The exact p enumerates every sign assignment; with n non-zero pairs no data can give less than 2 / 2^n: ");
        text.Append("0.25 for 3 seeds, 0.0625 for 5, below 0.05 only from 6. With 3 seeds per strategy these tests have almost no power: ");
        text.Append("a p of 0.25 is the strongest result possible and is not evidence of a difference at any usual level; read the mean differences and the curves.\n\n");
        text.Append("| strategy | versus | pairs | non-zero | mean difference (points) | W+ | exact p | smallest possible p | normal-approximation p |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var t in c.Tests)
        {
            text.Append(Invariant, $"| {t.Strategy} | {t.Versus} | {t.Pairs} | {t.NonZero} | {t.MeanDifference:+0.00;-0.00;0.00} | {t.WPlus:G} | {t.ExactP:0.0000} | {t.SmallestPossibleP:0.0000} | {t.NormalP:0.0000} |\n");
        }

        text.Append("\n## Anytime curves\n\nMean over seeds (range in brackets) of the best validation accuracy so far and of its test accuracy, at a few candidate counts (all counts in anytime-bands.csv).\n\n");
        var counts = c.Bands.Select(b => b.Candidates).Distinct().Order().ToList();
        var marks = counts.Count == 0 ? [] : new[] { 0.1, 0.25, 0.5, 0.75, 1.0 }.Select(q => counts[Math.Max(0, (int)Math.Ceiling(q * counts.Count) - 1)]).Distinct().ToList();
        text.Append("| strategy | candidates | best validation % | its test % |\n|---|---|---|---|\n");
        foreach (var s in c.Strategies)
        {
            foreach (var b in c.Bands.Where(b => b.Strategy == s && marks.Contains(b.Candidates)))
            {
                text.Append(Invariant, $"| {s} | {b.Candidates} | {b.MeanValidation:F2} [{b.MinValidation:F2}, {b.MaxValidation:F2}] | {Format(b.MeanTest)} [{Format(b.MinTest)}, {Format(b.MaxTest)}] |\n");
            }
        }

        text.Append("\n## Mutation types\n\nEach candidate's first (rung-0) validation accuracy against its parent's.\n\n");
        text.Append("| strategy | type | candidates | valid | with a valid parent | improved on parent | mean accuracy change | mean parameter change |\n|---|---|---|---|---|---|---|---|\n");
        foreach (var m in c.MutationTypes)
        {
            text.Append(Invariant, $"| {m.Strategy} | {m.MutationType} | {m.Candidates} | {m.Valid} | {m.WithParent} | {m.Improved} | {Format(m.MeanAccuracyDelta, "+0.00;-0.00;0.00")} | {Format(m.MeanParameterDelta, "+0;-0;0")} |\n");
        }

        text.Append("\n## Edit depth\n\nEdits between a candidate and its seed (0: a seed; a random sample's recorded edits; a child's parent's depth plus one).\n\n| strategy | candidates of known depth | mean | median | max |\n|---|---|---|---|---|\n");
        foreach (var s in c.Strategies)
        {
            var depths = c.Depths.Where(d => d.Strategy == s).SelectMany(d => Enumerable.Repeat(d.Depth, d.Candidates)).Order().ToList();
            if (depths.Count == 0)
            {
                text.Append(Invariant, $"| {s} | 0 | - | - | - |\n");
            }
            else
            {
                text.Append(Invariant, $"| {s} | {depths.Count} | {depths.Average():F1} | {depths[depths.Count / 2]} | {depths[^1]} |\n");
            }
        }

        text.Append("\n## Attributes\n\nSummed over each strategy's seeds; improved: the child's validation accuracy above its parent's.\n\n| strategy | attribute | candidates | valid | failed | improved | mean accuracy change |\n|---|---|---|---|---|---|---|\n");
        foreach (var a in c.Attributes)
        {
            text.Append(Invariant, $"| {a.Strategy} | {a.Attribute} | {a.Candidates} | {a.Valid} | {a.Failed} | {a.Improved} | {Format(a.MeanAccuracyDelta, "+0.00;-0.00;0.00")} |\n");
        }

        text.Append("\n## Figures\n\n![best validation accuracy so far](anytime-validation.png)\n![test accuracy of the best so far](anytime-test.png)\n![Pareto fronts](fronts.png)\n");
        text.Append("\nFiles: final.csv, tests.csv, anytime.csv, anytime-bands.csv, fronts.csv, mutation-types.csv, attributes.csv, edit-depths.csv; comparison.tex (booktabs).\n");
        return text.ToString();
    }

    public static string Latex(Comparison c)
    {
        static string Escape(string text) => text.Replace("_", "\\_", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("&", "\\&", StringComparison.Ordinal);
        var e = c.Runs[0].Experiment;
        var text = new StringBuilder("% Generated by `fairnad report --runs` from the runs' journals; needs \\usepackage{booktabs}.\n\\begin{table}[t]\n\\centering\n\\small\n");
        text.Append(Invariant, $"\\caption{{Strategies on {Escape(e.Dataset)} at {e.ParameterBudget:N0} parameters or fewer: best candidate of each run by validation accuracy and its test accuracy, mean $\\pm$ std over seeds; exact paired Wilcoxon p against each other strategy (with $n$ seeds no p is below $2/2^n$, 0.25 for 3).}}\n");
        text.Append("\\label{tab:strategy-comparison}\n\\begin{tabular}{lrrrl}\n\\toprule\nStrategy & Seeds & Val. (\\%) & Test (\\%) & Paired p (test) \\\\\n\\midrule\n");
        foreach (var s in c.Strategies)
        {
            var rows = c.Final.Where(f => f.Strategy == s).ToList();
            var v = rows.Where(f => f.BestValidation is not null).Select(f => f.BestValidation!.Value).ToList();
            var t = rows.Where(f => f.TestOfBest is not null).Select(f => f.TestOfBest!.Value).ToList();
            var tests = c.Tests.Where(x => x.Strategy == s).Select(x => string.Create(Invariant, $"vs {Escape(x.Versus)} {x.ExactP:0.00}"));
            text.Append(Invariant, $"{Escape(s)} & {rows.Count} & {Statistics.Mean(v):F2} $\\pm$ {Statistics.StandardDeviation(v):F2} & {Statistics.Mean(t):F2} $\\pm$ {Statistics.StandardDeviation(t):F2} & {string.Join(", ", tests)} \\\\\n");
        }

        text.Append("\\bottomrule\n\\end{tabular}\n\\end{table}\n");
        return text.ToString();
    }

    private static IReadOnlyList<string> Plots(Comparison c, string directory)
    {
        var palette = new ScottPlot.Palettes.ColorblindFriendly();
        var files = new List<string>();
        var e = c.Runs[0].Experiment;
        foreach (var (name, title, test) in new[] { ("anytime-validation.png", "best validation accuracy so far", false), ("anytime-test.png", "test accuracy of the best so far", true) })
        {
            var plot = RunPlots.NewPlot($"{e.Dataset}: {title} (mean, band: range over seeds)", "candidates", test ? "test accuracy (%)" : "validation accuracy (%)");
            for (var i = 0; i < c.Strategies.Count; i++)
            {
                var bands = c.Bands.Where(b => b.Strategy == c.Strategies[i] && (!test || b.MeanTest is not null)).ToList();
                if (bands.Count == 0)
                {
                    continue;
                }

                var color = palette.GetColor(i);
                var xs = bands.Select(b => (double)b.Candidates).ToArray();
                var fill = plot.Add.FillY(xs, bands.Select(b => test ? b.MinTest!.Value : b.MinValidation).ToArray(), bands.Select(b => test ? b.MaxTest!.Value : b.MaxValidation).ToArray());
                fill.FillColor = color.WithAlpha(0.2);
                var line = plot.Add.Scatter(xs, bands.Select(b => test ? b.MeanTest!.Value : b.MeanValidation).ToArray());
                line.Color = color;
                line.LineWidth = 2;
                line.MarkerSize = 0;
                line.LegendText = $"{c.Strategies[i]} ({bands[0].Seeds} seeds)";
            }

            plot.ShowLegend(Alignment.LowerRight);
            var path = Path.Combine(directory, name);
            plot.SavePng(path, RunPlots.Width, RunPlots.Height);
            files.Add(path);
        }

        var fronts = RunPlots.NewPlot($"{e.Dataset}: accuracy/{e.CostObjective} fronts of every run", e.CostObjective, "validation accuracy (%)");
        for (var i = 0; i < c.Strategies.Count; i++)
        {
            var color = palette.GetColor(i);
            var first = true;
            foreach (var run in c.Fronts.Where(f => f.Strategy == c.Strategies[i] && f.Cost is not null && f.Validation is not null).GroupBy(f => f.Seed))
            {
                var members = run.OrderBy(f => f.Cost).ToList();
                var line = fronts.Add.Scatter(members.Select(f => (double)f.Cost!.Value).ToArray(), members.Select(f => f.Validation!.Value).ToArray());
                line.Color = color;
                line.ConnectStyle = ConnectStyle.StepHorizontal;
                line.LineWidth = 1.5f;
                line.MarkerSize = 6;
                if (first)
                {
                    line.LegendText = c.Strategies[i];
                    first = false;
                }
            }
        }

        fronts.ShowLegend(Alignment.LowerRight);
        var frontPath = Path.Combine(directory, "fronts.png");
        fronts.SavePng(frontPath, RunPlots.Width, RunPlots.Height);
        files.Add(frontPath);
        return files;
    }
}
