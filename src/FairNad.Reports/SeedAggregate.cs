using System.Globalization;
using System.Text;
using FairNad.Experiments;
using FairNad.Search;

namespace FairNad.Reports;

/// <summary>One run's headline numbers.</summary>
public sealed record RunSummary(string Run, string Strategy, string Dataset, int Seed, int Candidates, int Failed, double? BestValidation, double? TestOfBest, long? ParametersOfBest);

/// <summary>A strategy over seeds: mean +- std, and paired Wilcoxon tests against the baselines on the seeds both ran.</summary>
public sealed record StrategyAggregate(string Strategy, IReadOnlyList<RunSummary> Runs, WilcoxonResult? VersusRea, WilcoxonResult? VersusRandom)
{
    private List<double> Tests => Runs.Where(r => r.TestOfBest is not null).Select(r => r.TestOfBest!.Value).ToList();

    public double MeanTest => Statistics.Mean(Tests);

    public double StdTest => Statistics.StandardDeviation(Tests);

    public double MeanValidation => Statistics.Mean(Runs.Where(r => r.BestValidation is not null).Select(r => r.BestValidation!.Value).ToList());

    public double StdValidation => Statistics.StandardDeviation(Runs.Where(r => r.BestValidation is not null).Select(r => r.BestValidation!.Value).ToList());
}

/// <summary>
/// Aggregates runs of one experiment over seeds and strategies (e.g. fairnad, its ablations, rea and random with seeds
/// 0-4): per strategy mean +- std of the best candidate's validation and test accuracy, and paired significance against
/// REA and random on the seeds both ran. Written as aggregate.md and aggregate.csv.
/// </summary>
public static class SeedAggregate
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static RunSummary Summarise(string runDirectory)
    {
        var archive = new RunArchive(runDirectory);
        var experiment = archive.ReadExperiment();
        var entries = archive.Records;
        var best = archive.Best;
        return new RunSummary(archive.Run, experiment.Strategy, experiment.Dataset, experiment.Seeds[0],
            entries.Count, entries.Count(e => !e.Ok), best?.Validation, best?.Test, best?.Parameters);
    }

    public static IReadOnlyList<StrategyAggregate> Aggregate(IEnumerable<string> runDirectories)
    {
        var runs = runDirectories.Select(Summarise).ToList();
        if (runs.Select(r => r.Dataset).Distinct().Count() > 1)
        {
            throw new ExperimentException($"the runs are on different datasets ({string.Join(", ", runs.Select(r => r.Dataset).Distinct())}); aggregate runs of one experiment");
        }

        var byStrategy = runs.GroupBy(r => r.Strategy).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Seed).ToList());
        WilcoxonResult? Versus(string strategy, string baseline)
        {
            if (strategy == baseline || !byStrategy.TryGetValue(baseline, out var other))
            {
                return null;
            }

            var pairs = byStrategy[strategy].Join(other, r => r.Seed, r => r.Seed, (a, b) => (a.TestOfBest, b.TestOfBest))
                .Where(p => p.Item1 is not null && p.Item2 is not null).ToList();
            return pairs.Count == 0 ? null : Statistics.Wilcoxon(pairs.Select(p => p.Item1!.Value).ToList(), pairs.Select(p => p.Item2!.Value).ToList());
        }

        return byStrategy.Select(kv => new StrategyAggregate(kv.Key, kv.Value, Versus(kv.Key, "rea"), Versus(kv.Key, "random"))).ToList();
    }

    public static string Markdown(IReadOnlyList<StrategyAggregate> aggregates)
    {
        var text = new StringBuilder("| strategy | seeds | best validation % | its test % | vs REA (paired Wilcoxon) | vs random |\n|---|---|---|---|---|---|\n");
        static string Versus(WilcoxonResult? w) => w is null ? "-" : w.N == 0 ? "identical" :
            string.Create(CultureInfo.InvariantCulture, $"{(w.Z > 0 ? "better" : w.Z < 0 ? "worse" : "tied")}, p = {w.P:0.0000} (n = {w.N})");
        foreach (var a in aggregates)
        {
            text.Append(Invariant, $"| {a.Strategy} | {string.Join(", ", a.Runs.Select(r => r.Seed))} | {a.MeanValidation:F2} +- {a.StdValidation:F2} | {a.MeanTest:F2} +- {a.StdTest:F2} | {Versus(a.VersusRea)} | {Versus(a.VersusRandom)} |\n");
        }

        text.Append("\nWith fewer than about 6 paired seeds the Wilcoxon test cannot reach p < 0.05; read the p-values with the seed count.\n");
        return text.ToString();
    }

    public static IReadOnlyList<string> Write(IEnumerable<string> runDirectories, string outDirectory)
    {
        var aggregates = Aggregate(runDirectories);
        Directory.CreateDirectory(outDirectory);
        var markdown = Path.Combine(outDirectory, "aggregate.md");
        File.WriteAllText(markdown, "# Aggregate over seeds\n\n" + Markdown(aggregates));
        var csv = Path.Combine(outDirectory, "aggregate.csv");
        File.WriteAllText(csv, RunReporter.Csv(aggregates.SelectMany(a => a.Runs)));
        return [markdown, csv];
    }
}
