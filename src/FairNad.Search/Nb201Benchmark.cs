using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Search;

/// <summary>The NAS-Bench-201 tables shipped with FairNad (Nb201Tables/, Apache-2.0), with parameter and MAC counts computed per cell.</summary>
public static class Nb201Tables
{
    public static readonly IReadOnlyList<string> Datasets = ["cifar10-valid", "cifar100", "ImageNet16-120"];

    private static readonly ConcurrentDictionary<string, Nb201TableEvaluator> Cache = new(StringComparer.Ordinal);

    /// <summary>The uncompressed table text.</summary>
    public static string Text(string dataset)
    {
        if (!Datasets.Contains(dataset))
        {
            throw new ArgumentException($"no NAS-Bench-201 table for '{dataset}'; the tables are {string.Join(", ", Datasets)}");
        }

        using var stream = typeof(Nb201Tables).Assembly.GetManifestResourceStream($"FairNad.Search.Nb201Tables.nb201_{dataset}.csv.gz")
            ?? throw new InvalidOperationException($"the NAS-Bench-201 table for {dataset} is missing from FairNad.Search");
        using var gzip = new GZipStream(stream, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public static string Sha256(string dataset) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Text(dataset))));

    /// <summary>The table as an evaluator whose cost is the cell's parameter count (C = 16, N = 5, the dataset's classes).</summary>
    public static Nb201TableEvaluator Load(string dataset) => Cache.GetOrAdd(dataset, d =>
    {
        using var reader = new StringReader(Text(d));
        var table = Nb201TableEvaluator.Load(reader, $"Nb201Tables/nb201_{d}.csv.gz");
        var input = Nb201.InputFor(d);
        var parameters = new ConcurrentDictionary<string, double>(StringComparer.Ordinal);
        return table.WithCost(cell => parameters.GetOrAdd(cell, c => ArchitectureAnalyzer.Analyze(Nb201.ToSpec(c, input)).Parameters));
    });
}

/// <summary>
/// The NAS-Bench-201 cell space as FairNAD sees it: its five operations are the attributes (convolutions and pooling as
/// operators, skip and none as topology), realised by setting one edge (drawn among those that differ) to that operation.
/// </summary>
public sealed class Nb201IdeaSpace(int population) : IIdeaSpace<string>, ISearchSpace<string>, INeighbourhood<string>
{
    private static readonly Nb201Space Cells = new();

    public static AttributeTree IdeaTree { get; } = BuildTree();

    public AttributeTree Tree => IdeaTree;

    public string Key(string candidate) => candidate;

    public IReadOnlyList<(string Candidate, string Summary)> InitialPopulation(Random random) =>
        Enumerable.Range(0, population).Select(_ => (Cells.Sample(random), "random cell")).ToList();

    public AppliedIdea<string>? Apply(string parent, AttributeNode attribute, Random random)
    {
        var op = attribute.Realisations[0].Params["op"].Text!;
        var edges = Nb201.ParseEdges(parent);
        var candidates = Enumerable.Range(0, edges.Length).Where(i => edges[i] != op).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var edge = candidates[random.Next(candidates.Count)];
        var was = edges[edge];
        edges[edge] = op;
        return new AppliedIdea<string>(Nb201.FormatEdges(edges), $"edge {edge}: {was} -> {op}");
    }

    public string Sample(Random random) => Cells.Sample(random);

    public string Mutate(string parent, Random random) => Cells.Mutate(parent, random);

    public IEnumerable<string> Neighbours(string candidate) => Cells.Neighbours(candidate);

    private static AttributeTree BuildTree()
    {
        AttributeNode Op(string id, string name, string description, string effect, string op) =>
            new(id, name, description, effect, [], [new Realisation("nb201_set_edge", new Dictionary<string, ParamValue> { ["op"] = op })]);
        return new AttributeTree(AttributeTree.CurrentSchema, new Provenance("nb201", "the five NAS-Bench-201 operations as design ideas", null, null),
        [
            new GranularityNode("operator", "Operator level",
            [
                new CategoryNode("operator.feature-extraction", "Feature extraction",
                [
                    Op("operator.feature-extraction.conv-3x3", "3x3 convolution", "ReLU-conv-BN with a 3x3 kernel on an edge.", "accuracy", "nor_conv_3x3"),
                    Op("operator.feature-extraction.conv-1x1", "1x1 convolution", "ReLU-conv-BN with a 1x1 kernel: channel mixing at low cost.", "efficiency", "nor_conv_1x1"),
                    Op("operator.feature-extraction.avg-pool", "3x3 average pooling", "Parameter-free local aggregation on an edge.", "efficiency", "avg_pool_3x3"),
                ]),
            ]),
            new GranularityNode("block", "Block level",
            [
                new CategoryNode("block.residual-multibranch", "Residual and multi-branch topology",
                [
                    Op("block.residual-multibranch.skip", "Identity edge", "An identity edge: a shortcut that eases optimisation.", "optimisation", "skip_connect"),
                    Op("block.residual-multibranch.prune-edge", "Pruned edge", "Remove an edge (zero operation): a sparser cell.", "efficiency", "none"),
                ]),
            ]),
        ]);
    }
}

/// <summary>A space whose candidates have a finite set of nearest neighbours (local search needs them).</summary>
public interface INeighbourhood<T>
{
    IEnumerable<T> Neighbours(T candidate);
}

/// <summary>
/// Local search (White et al. 2021): from a random candidate, evaluate its neighbours in a seeded order; move to the best
/// as soon as all are known if it improves on the current one, else restart from a new random candidate.
/// </summary>
public sealed class LocalSearch<T>(ISearchSpace<T> space, INeighbourhood<T> neighbourhood, int seed) : IAskTellStrategy<T>
{
    private readonly Random _random = new(seed);
    private readonly Dictionary<string, double> _known = new(StringComparer.Ordinal);
    private readonly Queue<T> _queue = new();
    private (T Candidate, string Key)? _current;
    private double? _currentAccuracy;
    private int _waiting;

    public string Name => "local";

    public ValueTask<Proposal<T>?> AskAsync(CancellationToken cancel = default)
    {
        if (_current is { } current && _queue.Count == 0 && _waiting == 0 && _currentAccuracy is not null)
        {
            Step(current.Key);
        }

        Proposal<T> proposal;
        if (_current is { } here && _queue.TryDequeue(out var next))
        {
            proposal = new Proposal<T>(next, space.Key(next), [here.Key], "mutation");
        }
        else
        {
            var start = space.Sample(_random);
            _current = (start, space.Key(start));
            _currentAccuracy = null;
            _queue.Clear();
            proposal = new Proposal<T>(start, space.Key(start), [], "random");
        }

        _waiting++;
        return ValueTask.FromResult<Proposal<T>?>(proposal);
    }

    public void Tell(Proposal<T> proposal, Outcome outcome)
    {
        _waiting = Math.Max(0, _waiting - 1);
        _known[proposal.Key] = outcome.Accuracy ?? double.NegativeInfinity;
        if (_current is { } current && proposal.Key == current.Key)
        {
            _currentAccuracy = _known[proposal.Key];
            foreach (var n in neighbourhood.Neighbours(current.Candidate).OrderBy(_ => _random.Next()).ToList())
            {
                _queue.Enqueue(n);
            }
        }
    }

    /// <summary>All neighbours known: move to the best if it improves, else restart.</summary>
    private void Step(string currentKey)
    {
        var neighbours = neighbourhood.Neighbours(_current!.Value.Candidate).Select(n => (Candidate: n, Key: space.Key(n))).ToList();
        var best = neighbours.Where(n => _known.ContainsKey(n.Key)).OrderByDescending(n => _known[n.Key]).ThenBy(n => n.Key, StringComparer.Ordinal).FirstOrDefault();
        if (best.Key is not null && _known[best.Key] > _known[currentKey])
        {
            _current = (best.Candidate, best.Key);
            _currentAccuracy = _known[best.Key];
            foreach (var n in neighbourhood.Neighbours(best.Candidate).OrderBy(_ => _random.Next()).ToList())
            {
                _queue.Enqueue(n);
            }
        }
        else
        {
            _current = null;
        }
    }
}

/// <summary>What the NAS-Bench-201 strategy benchmark runs.</summary>
/// <param name="Budgets">Query budgets reported (unique architectures looked up); each run goes to the largest and is read at each.</param>
/// <param name="Seeds">Seeds 0..Seeds-1, the same for every strategy (paired tests pair them).</param>
/// <param name="QueryColumn">What the strategies see of a cell (the evaluator's accuracy); only words the report: the tables passed to <see cref="Nb201Benchmark.Run"/> hold the values.</param>
/// <param name="ReportColumn">What is reported of the best cell by <paramref name="QueryColumn"/>.</param>
/// <param name="Rules">FairNAD's search rules (<see cref="FairNadOptions.Rules"/>); an earlier version gives that version's numbers.</param>
public sealed record Nb201BenchmarkSettings(IReadOnlyList<string> Datasets, IReadOnlyList<string> Strategies, IReadOnlyList<int> Budgets, int Seeds,
    string QueryColumn = Nb201BenchmarkSettings.DefaultQueryColumn, string ReportColumn = Nb201BenchmarkSettings.DefaultReportColumn, int Rules = FairNadOptions.CurrentRules)
{
    public const string DefaultQueryColumn = "validation accuracy";

    public const string DefaultReportColumn = "test accuracy";

    /// <summary>Whether the run uses NAS-Bench-201's own protocol (validation accuracy seen, test accuracy reported).</summary>
    public bool StandardColumns => QueryColumn == DefaultQueryColumn && ReportColumn == DefaultReportColumn;
}

/// <summary>One strategy at one budget on one dataset, over all seeds.</summary>
/// <param name="Test">Per seed: test accuracy of the architecture with the best validation accuracy so far (NAS-Bench-201's protocol).</param>
/// <param name="Validation">Per seed: that best validation accuracy.</param>
/// <param name="VersusRea">Paired Wilcoxon test of <see cref="Test"/> against REA on the same seeds (null for REA itself).</param>
/// <param name="VersusRandom">The same against random search.</param>
public sealed record Nb201Row(string Dataset, string Strategy, int Budget, IReadOnlyList<double> Test, IReadOnlyList<double> Validation, double Optimum,
    WilcoxonResult? VersusRea, WilcoxonResult? VersusRandom)
{
    public double MeanTest => Statistics.Mean(Test);

    public double StdTest => Statistics.StandardDeviation(Test);

    public double MeanValidation => Statistics.Mean(Validation);

    public double StdValidation => Statistics.StandardDeviation(Validation);

    public double MeanRegret => Optimum - MeanTest;
}

/// <summary>The benchmark's results: a row per dataset, strategy and budget, mean anytime curves, and FairNAD's paired comparisons.</summary>
/// <param name="Comparisons">FairNAD against every other strategy run, per dataset and budget, Holm-corrected per dataset and budget (empty when FairNAD or every other strategy is left out).</param>
/// <param name="Ceilings">Per dataset: the table's best cell by the query column and its reported value (<see cref="Nb201TableEvaluator.BestByValidation"/>).</param>
/// <param name="QueryComparisons">FairNAD against REA on the query column (the accuracy the strategies maximise), per dataset and budget, a family of one each (empty when either is left out).</param>
public sealed record Nb201BenchmarkResult(Nb201BenchmarkSettings Settings, IReadOnlyList<Nb201Row> Rows, IReadOnlyDictionary<(string Dataset, string Strategy), IReadOnlyList<double>> Anytime,
    IReadOnlyList<PairedComparison> Comparisons, IReadOnlyDictionary<string, (string Cell, double Validation, double Test)> Ceilings, IReadOnlyList<PairedComparison> QueryComparisons);

/// <summary>
/// Strategies on the NAS-Bench-201 tables: random search, REA, local search and FairNAD (fair idea and Pareto-aware
/// mutation over the cell's operations, feedback on; no LLM), with FairNAD's ablations, at several query budgets and
/// many seeds; a table lookup of validation accuracy is the evaluator and the test accuracy of the best-by-validation
/// architecture is reported. Deterministic: the same settings give the same numbers.
/// </summary>
public static class Nb201Benchmark
{
    public static readonly IReadOnlyList<string> AllStrategies = ["random", "rea", "local", "fairnad", "fairnad-no-fair-idea", "fairnad-no-pareto", "fairnad-no-feedback"];

    /// <summary>The strategy the direct paired tests are about: FairNAD's default configuration against each baseline and ablation.</summary>
    public const string Reference = "fairnad";

    /// <summary>Population and tournament of REA and FairNAD, as in NAS-Bench-201's REA baseline.</summary>
    public const int Population = 10;

    public const int Tournament = 3;

    /// <summary>FairNAD's mix on the cell space: fair idea and Pareto-aware mutation in equal shares (no LLM); ablations redistribute.</summary>
    public static readonly MutationMix Mix = new(0.5, 0.5, 0);

    public static IAskTellStrategy<string> Create(string strategy, int seed, int rules = FairNadOptions.CurrentRules) => AllStrategies.Contains(strategy)
        ? StrategyChoice.Parse(strategy, llmOff: true).Create(new Nb201IdeaSpace(Population), seed, Mix, Population, Tournament, rules: rules)
        : throw new ArgumentException($"unknown strategy '{strategy}'; known: {string.Join(", ", AllStrategies)}");

    /// <summary>Best-so-far (by validation) test and validation accuracy after each query of one run.</summary>
    public static (double[] Test, double[] Validation) Trajectory(string strategy, int seed, Nb201TableEvaluator table, int budget, int rules = FairNadOptions.CurrentRules)
    {
        var trials = StrategyDriver.Run(new Deduplicating<string>(Create(strategy, seed, rules)), table, budget);
        var test = new double[budget];
        var validation = new double[budget];
        var best = double.NegativeInfinity;
        var bestTest = double.NaN;
        for (var i = 0; i < budget; i++)
        {
            if (i < trials.Count && trials[i].Validation is { } v && v > best)
            {
                best = v;
                bestTest = table.Test(trials[i].Key);
            }

            test[i] = bestTest;
            validation[i] = best;
        }

        return (test, validation);
    }

    public static Nb201BenchmarkResult Run(Nb201BenchmarkSettings settings, Func<string, Nb201TableEvaluator>? tables = null)
    {
        var load = tables ?? Nb201Tables.Load;
        var maxBudget = settings.Budgets.Max();
        var jobs = (from d in settings.Datasets from s in settings.Strategies from seed in Enumerable.Range(0, settings.Seeds) select (Dataset: d, Strategy: s, Seed: seed)).ToList();
        var evaluators = settings.Datasets.ToDictionary(d => d, load, StringComparer.Ordinal);
        var runs = new (double[] Test, double[] Validation)[jobs.Count];
        Parallel.For(0, jobs.Count, i => runs[i] = Trajectory(jobs[i].Strategy, jobs[i].Seed, evaluators[jobs[i].Dataset], maxBudget, settings.Rules));

        var byKey = jobs.Select((j, i) => (j, i)).GroupBy(x => (x.j.Dataset, x.j.Strategy)).ToDictionary(g => g.Key, g => g.OrderBy(x => x.j.Seed).Select(x => runs[x.i]).ToList());
        var rows = new List<Nb201Row>();
        var comparisons = new List<PairedComparison>();
        var queryComparisons = new List<PairedComparison>();
        foreach (var dataset in settings.Datasets)
        {
            var optimum = evaluators[dataset].BestTest;
            foreach (var budget in settings.Budgets)
            {
                IReadOnlyList<double> At(string strategy) => byKey[(dataset, strategy)].Select(r => r.Test[budget - 1]).ToList();
                foreach (var strategy in settings.Strategies)
                {
                    var test = At(strategy);
                    rows.Add(new Nb201Row(dataset, strategy, budget, test, byKey[(dataset, strategy)].Select(r => r.Validation[budget - 1]).ToList(), optimum,
                        strategy != "rea" && settings.Strategies.Contains("rea") ? Statistics.Wilcoxon(test, At("rea")) : null,
                        strategy != "random" && settings.Strategies.Contains("random") ? Statistics.Wilcoxon(test, At("random")) : null));
                }

                // One family per dataset and budget: FairNAD against every other strategy run, Holm-corrected together.
                var others = settings.Strategies.Where(x => x != Reference).Select(x => (x, At(x))).ToList();
                if (settings.Strategies.Contains(Reference) && others.Count > 0)
                {
                    comparisons.AddRange(PairedComparisons.Family(dataset, budget, Reference, At(Reference), others));
                }

                // The same question on the accuracy the strategies see: which searched better, apart from how the
                // found cells happen to test.
                IReadOnlyList<double> SeenAt(string strategy) => byKey[(dataset, strategy)].Select(r => r.Validation[budget - 1]).ToList();
                if (settings.Strategies.Contains(Reference) && settings.Strategies.Contains("rea"))
                {
                    queryComparisons.AddRange(PairedComparisons.Family(dataset, budget, Reference, SeenAt(Reference), [("rea", SeenAt("rea"))]));
                }
            }
        }

        var anytime = byKey.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)Enumerable.Range(0, maxBudget).Select(q => kv.Value.Average(r => r.Test[q])).ToList());
        var ceilings = settings.Datasets.ToDictionary(d => d, d => evaluators[d].BestByValidation, StringComparer.Ordinal);
        return new Nb201BenchmarkResult(settings, rows, anytime, comparisons, ceilings, queryComparisons);
    }

    /// <summary>
    /// Published results on NAS-Bench-201 (Dong and Yang, ICLR 2020, Table 5; 12,000 s of simulated training per run, 500
    /// runs): mean and std of validation and test accuracy. CIFAR-10 there is trained on the full training set for test,
    /// which the cifar10-valid table does not hold, so only its validation column compares.
    /// </summary>
    public static readonly IReadOnlyList<(string Method, string Dataset, double Validation, double ValidationStd, double? Test, double? TestStd)> Published =
    [
        ("REA", "cifar10-valid", 91.19, 0.31, null, null),
        ("REA", "cifar100", 71.81, 1.12, 71.84, 0.99),
        ("REA", "ImageNet16-120", 45.15, 0.89, 45.54, 1.03),
        ("Random search", "cifar10-valid", 90.93, 0.36, null, null),
        ("Random search", "cifar100", 70.93, 1.09, 71.04, 1.07),
        ("Random search", "ImageNet16-120", 44.45, 1.10, 44.57, 1.25),
    ];

    /// <summary>The results as Markdown: per dataset, mean +- std test accuracy by budget, then significance and regret at the largest budget, then the published baselines.</summary>
    public static string Markdown(Nb201BenchmarkResult result)
    {
        var c = CultureInfo.InvariantCulture;
        var s = result.Settings;
        var text = new StringBuilder();
        var maxBudget = s.Budgets.Max();
        text.Append(c, $"NAS-Bench-201 strategy benchmark: {s.Seeds} seeds (0-{s.Seeds - 1}) per strategy; a budget counts unique architectures queried. ");
        text.Append(s.StandardColumns
            ? "Cells give the test accuracy (%) of the architecture with the best validation accuracy so far, mean +- std over seeds.\n"
            : $"Cells give the '{s.ReportColumn}' of the architecture with the best '{s.QueryColumn}' so far (the strategies see only '{s.QueryColumn}'), mean +- std over seeds.\n");
        foreach (var dataset in s.Datasets)
        {
            var rows = result.Rows.Where(r => r.Dataset == dataset).ToList();
            text.Append(c, $"\n### {dataset} (optimum {rows[0].Optimum:F2})\n\n| strategy | {string.Join(" | ", s.Budgets.Select(b => b.ToString(c)))} |\n|---|{string.Concat(s.Budgets.Select(_ => "---|"))}\n");
            foreach (var strategy in s.Strategies)
            {
                text.Append(c, $"| {strategy} | {string.Join(" | ", s.Budgets.Select(b => rows.Single(r => r.Strategy == strategy && r.Budget == b)).Select(r => MeanStd(r.MeanTest, r.StdTest)))} |\n");
            }

            if (rows.Any(r => double.IsNaN(r.MeanTest)))
            {
                text.Append("\nn/a: at that budget some seed had not yet found a cell the table holds (every query it made was of a missing cell).\n");
            }

            text.Append(c, $"\nAt {maxBudget} queries:\n\n| strategy | {(s.StandardColumns ? "validation" : s.QueryColumn)} | {(s.StandardColumns ? "test" : s.ReportColumn)} | regret | vs REA (p, Wilcoxon) | vs random (p) |\n|---|---|---|---|---|---|\n");
            foreach (var r in rows.Where(r => r.Budget == maxBudget))
            {
                static string Versus(Nb201Row row, WilcoxonResult? w) => w is null ? "-" : w.N == 0 ? "identical" :
                    string.Create(CultureInfo.InvariantCulture, $"{(w.Z > 0 ? "better" : w.Z < 0 ? "worse" : "tied")}, {(w.P < 1e-4 ? "p < 0.0001" : $"p = {w.P:0.0000}")}");
                text.Append(c, $"| {r.Strategy} | {MeanStd(r.MeanValidation, r.StdValidation)} | {MeanStd(r.MeanTest, r.StdTest)} | {(double.IsNaN(r.MeanRegret) ? "n/a" : r.MeanRegret.ToString("F2", c))} | {Versus(r, r.VersusRea)} | {Versus(r, r.VersusRandom)} |\n");
            }

            AppendCeiling(text, result, dataset, rows.Where(r => r.Budget == maxBudget).ToList());
            AppendComparisons(text, result.Comparisons.Where(x => x.Dataset == dataset).ToList());
            AppendQueryComparisons(text, result, rows, result.QueryComparisons.Where(x => x.Dataset == dataset).ToList());
            var published = s.StandardColumns ? Published.Where(p => p.Dataset == dataset).ToList() : [];
            if (published.Count > 0)
            {
                text.Append("\nPublished (NAS-Bench-201 paper, Table 5, time budget of 12,000 s; transcribed, not re-checked against the paper on a machine without internet):\n\n| method | validation | test |\n|---|---|---|\n");
                foreach (var p in published)
                {
                    text.Append(c, $"| {p.Method} | {p.Validation:F2} +- {p.ValidationStd:F2} | {(p.Test is { } t ? $"{t:F2} +- {p.TestStd:F2}" : "n/a (trained on the full CIFAR-10)")} |\n");
                }
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// The ceiling of the search's own objective: the table's best cell by the query column and what it reports, and
    /// which strategies report more than that at the largest budget (their best cells by the query column report more
    /// than the query optimum does: a lead on the reported column that finding a better cell by the query would lose).
    /// </summary>
    private static void AppendCeiling(StringBuilder text, Nb201BenchmarkResult result, string dataset, IReadOnlyList<Nb201Row> atMax)
    {
        var c = CultureInfo.InvariantCulture;
        var s = result.Settings;
        var (query, report) = s.StandardColumns ? ("validation accuracy", "test accuracy") : ($"'{s.QueryColumn}'", $"'{s.ReportColumn}'");
        var ceiling = result.Ceilings[dataset];
        text.Append(c, $"\nCeiling: the table's best cell by {query} ({ceiling.Validation:F2}, `{ceiling.Cell}`) has {report} {ceiling.Test:F2}, {atMax[0].Optimum - ceiling.Test:F2} below the optimum; ");
        text.Append(c, $"a strategy that finds it on every seed reports {ceiling.Test:F2}. ");
        text.Append(c, $"Seeds on which it was found by {atMax[0].Budget} queries: {string.Join(", ", atMax.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Strategy} {r.Validation.Count(v => v == ceiling.Validation)}/{r.Validation.Count}")))}. ");
        var above = atMax.Where(r => r.MeanTest > ceiling.Test).Select(r => r.Strategy).ToList();
        if (above.Count == 0)
        {
            text.Append(c, $"At {atMax[0].Budget} queries no strategy's mean is above it.\n");
        }
        else
        {
            text.Append(c, $"At {atMax[0].Budget} queries {string.Join(", ", above)} {(above.Count == 1 ? "is" : "are")} above it on the mean: the cells {(above.Count == 1 ? "it reports" : "they report")} have a higher {report} than the {query} optimum has, which no better search of {query} explains.\n");
        }
    }

    /// <summary>FairNAD against REA on the query column at every budget (what the search maximises), with the means of both.</summary>
    private static void AppendQueryComparisons(StringBuilder text, Nb201BenchmarkResult result, IReadOnlyList<Nb201Row> rows, IReadOnlyList<PairedComparison> comparisons)
    {
        if (comparisons.Count == 0)
        {
            return;
        }

        var c = CultureInfo.InvariantCulture;
        var s = result.Settings;
        var query = s.StandardColumns ? "validation accuracy" : $"'{s.QueryColumn}'";
        static string P(double p) => p < 1e-4 ? "< 0.0001" : p.ToString("0.0000", CultureInfo.InvariantCulture);
        var (strategy, other) = (comparisons[0].Strategy, comparisons[0].Other);
        text.Append(c, $"\n{strategy} against {other} on {query}, the accuracy the strategies see and maximise (best found so far), paired on the same seeds ");
        text.Append("(two-sided Wilcoxon signed-rank test; one comparison per budget, uncorrected):\n\n");
        text.Append(c, $"| budget | {strategy} | {other} | difference | direction | pairs differing | p |\n|---|---|---|---|---|---|---|\n");
        foreach (var x in comparisons)
        {
            var mine = rows.Single(r => r.Strategy == strategy && r.Budget == x.Budget);
            var theirs = rows.Single(r => r.Strategy == other && r.Budget == x.Budget);
            text.Append(c, $"| {x.Budget} | {MeanStd(mine.MeanValidation, mine.StdValidation)} | {MeanStd(theirs.MeanValidation, theirs.StdValidation)} | {Signed(x.MeanDifference)} | {x.Direction} | {x.Test.N} | {P(x.Test.P)} |\n");
        }
    }

    /// <summary>A difference with its sign kept even where it rounds to 0.000 (the direction column reads the unrounded value).</summary>
    private static string Signed(double value) => double.IsNaN(value) ? "n/a" : value == 0 ? "0.000"
        : (value > 0 ? "+" : "-") + Math.Abs(value).ToString("0.000", CultureInfo.InvariantCulture);

    private static string MeanStd(double mean, double std) => double.IsFinite(mean) ? string.Create(CultureInfo.InvariantCulture, $"{mean:F2} +- {std:F2}") : "n/a";

    /// <summary>
    /// FairNAD against each other strategy at every budget: mean paired difference, its direction, the Wilcoxon p-value
    /// and the Holm-adjusted one (the family: FairNAD's comparisons at one budget on one dataset).
    /// </summary>
    private static void AppendComparisons(StringBuilder text, IReadOnlyList<PairedComparison> comparisons)
    {
        if (comparisons.Count == 0)
        {
            return;
        }

        var c = CultureInfo.InvariantCulture;
        static string P(double p) => p < 1e-4 ? "< 0.0001" : p.ToString("0.0000", CultureInfo.InvariantCulture);
        text.Append(c, $"\n{comparisons[0].Strategy} against each other strategy, paired on the same seeds (two-sided Wilcoxon signed-rank test). ");
        text.Append(c, $"Holm's step-down correction is applied per family: the {comparisons[0].FamilySize} comparisons at one budget on this dataset. ");
        text.Append(c, $"Difference = mean over seeds of ({comparisons[0].Strategy} - other), in accuracy points; significant: Holm-adjusted p < {PairedComparison.Alpha:0.00}.\n\n");
        text.Append(c, $"| budget | {comparisons[0].Strategy} vs | difference | direction | pairs differing | p | Holm p | significant |\n|---|---|---|---|---|---|---|---|\n");
        foreach (var x in comparisons)
        {
            text.Append(c, $"| {x.Budget} | {x.Other} | {Signed(x.MeanDifference)} | {x.Direction} | {x.Test.N} | {P(x.Test.P)} | {P(x.HolmP)} | {(x.Significant ? "yes" : "no")} |\n");
        }
    }

    /// <summary>Mean anytime curves as CSV: dataset, strategy, query, mean best-so-far test accuracy (invariant culture, "\n").</summary>
    public static string AnytimeCsv(Nb201BenchmarkResult result)
    {
        var text = new StringBuilder("dataset,strategy,query,mean_test_accuracy\n");
        foreach (var ((dataset, strategy), curve) in result.Anytime.OrderBy(k => result.Settings.Datasets.ToList().IndexOf(k.Key.Dataset)).ThenBy(k => result.Settings.Strategies.ToList().IndexOf(k.Key.Strategy)))
        {
            for (var q = 0; q < curve.Count; q++)
            {
                text.Append(CultureInfo.InvariantCulture, $"{dataset},{strategy},{q + 1},{curve[q]:F4}\n");
            }
        }

        return text.ToString();
    }
}
