using FairNad.Architecture;

namespace FairNad.Search;

/// <summary>Where a strategy searches: how to draw a candidate, mutate one, and identify it (for deduplication).</summary>
public interface ISearchSpace<T>
{
    T Sample(Random random);

    T Mutate(T parent, Random random);

    string Key(T candidate);
}

/// <summary>
/// A space whose random samples can say what they are (e.g. how many edits of which seed), for strategies to record.
/// The draws of <see cref="SampleDescribed"/> must be those of <see cref="ISearchSpace{T}.Sample"/>.
/// </summary>
public interface IDescribedSampling<T>
{
    /// <summary>Whether <see cref="SampleDescribed"/> gives summaries; when false a strategy records the empty summary it always did.</summary>
    bool DescribesSamples { get; }

    (T Candidate, string Summary) SampleDescribed(Random random);
}

/// <summary>
/// A space whose mutations can say what they did (e.g. which parameter values they drew), for REA to record. The draws
/// of <see cref="MutateDescribed"/> must be those of <see cref="ISearchSpace{T}.Mutate"/>.
/// </summary>
public interface IDescribedMutation<T>
{
    /// <summary>Whether <see cref="MutateDescribed"/> gives summaries; when false REA records the empty summary it always did.</summary>
    bool DescribesMutations { get; }

    (T Candidate, string Summary) MutateDescribed(T parent, Random random);
}

/// <summary>Sampling helpers shared by the baselines.</summary>
internal static class Sampling
{
    /// <summary>A random sample of <paramref name="space"/> as a proposal, with the space's description of it when it gives one.</summary>
    public static Proposal<T> Random<T>(ISearchSpace<T> space, Random random)
    {
        var (candidate, summary) = space is IDescribedSampling<T> { DescribesSamples: true } described ? described.SampleDescribed(random) : (space.Sample(random), string.Empty);
        return new Proposal<T>(candidate, space.Key(candidate), [], "random", Summary: summary);
    }

    /// <summary>A seed of the population as a proposal of type seed, as FairNAD proposes its initial population.</summary>
    public static Proposal<T> Seed<T>(ISearchSpace<T> space, (T Candidate, string Summary) seed) => new(seed.Candidate, space.Key(seed.Candidate), [], MutationTypes.Seed, Summary: seed.Summary);
}

/// <summary>What a candidate turned out to be worth. <see cref="Accuracy"/> is null when it failed; <see cref="Failure"/> says why.</summary>
/// <param name="Accuracy">Validation accuracy in percent.</param>
/// <param name="Cost">The cost objective (parameters or MACs), when known.</param>
/// <param name="Failure">Failure category (timeout, crash, diverged, ...), when it failed.</param>
/// <param name="Rung">
/// The fidelity rung the accuracy was measured at (0 without a ladder). A strategy may be told a candidate again with a
/// higher rung's result: that replaces the earlier outcome (<see cref="Outranks"/> says how results of two rungs compare).
/// </param>
public sealed record Outcome(double? Accuracy, double? Cost = null, string? Failure = null, int Rung = 0)
{
    public bool Ok => Accuracy is not null;

    /// <summary>
    /// The rule by which results of different rungs compare: a result at a higher rung outranks any result at a lower one
    /// (it survived more training and was promoted); within a rung the higher accuracy wins. Without a ladder every
    /// result is at rung 0, so this is plain accuracy. Failed outcomes sort below every valid one.
    /// </summary>
    public static (int Rung, double Accuracy) RankKey(Outcome o) => o.Ok ? (o.Rung, o.Accuracy!.Value) : (-1, double.NegativeInfinity);

    /// <summary>Whether this outcome ranks strictly above <paramref name="other"/> by <see cref="RankKey"/>.</summary>
    public bool Outranks(Outcome other) => RankKey(this).CompareTo(RankKey(other)) > 0;

    public static Outcome Failed(string category) => new(null, null, category);
}

/// <summary>A synchronous evaluator, such as a benchmark table lookup.</summary>
public interface IEvaluator<T>
{
    Outcome Evaluate(T candidate);
}

/// <summary>A candidate a strategy wants evaluated, with where it came from.</summary>
/// <param name="Key">Identity for deduplication (the canonical hash for architectures).</param>
/// <param name="Parents">Keys of the parents; empty for a sampled or seed candidate.</param>
/// <param name="MutationType">seed, random, mutation, fair-idea, pareto, llm.</param>
/// <param name="Attribute">The attribute a mutation realised, if any.</param>
/// <param name="Category">That attribute's category.</param>
/// <param name="Transcript">Hash of the LLM exchange that produced it, if any.</param>
/// <param name="Summary">One line saying what changed.</param>
public sealed record Proposal<T>(T Candidate, string Key, IReadOnlyList<string> Parents, string MutationType,
    string? Attribute = null, string? Category = null, string? Transcript = null, string Summary = "");

/// <summary>
/// A search strategy in ask/tell form, so that whoever drives it decides how candidates are evaluated (a table lookup,
/// parallel workers, a journal replayed on resume). Deterministic for its seed and the sequence of asks and tells.
/// <see cref="AskAsync"/> returns null when the strategy has nothing more to propose.
/// </summary>
public interface IAskTellStrategy<T>
{
    string Name { get; }

    ValueTask<Proposal<T>?> AskAsync(CancellationToken cancel = default);

    void Tell(Proposal<T> proposal, Outcome outcome);
}

/// <summary>One evaluated candidate, in query order.</summary>
public sealed record Trial<T>(int Index, Proposal<T> Proposal, Outcome Outcome)
{
    public T Candidate => Proposal.Candidate;

    public string Key => Proposal.Key;

    public double? Validation => Outcome.Accuracy;

    public string? ParentKey => Proposal.Parents.Count > 0 ? Proposal.Parents[0] : null;
}

/// <summary>Drives a strategy against a synchronous evaluator, one query at a time (the NAS-Bench-201 protocol).</summary>
public static class StrategyDriver
{
    public static IReadOnlyList<Trial<T>> Run<T>(IAskTellStrategy<T> strategy, IEvaluator<T> evaluator, int budget)
    {
        var trials = new List<Trial<T>>(budget);
        while (trials.Count < budget)
        {
            var proposal = strategy.AskAsync().AsTask().GetAwaiter().GetResult();
            if (proposal is null)
            {
                break;
            }

            var outcome = evaluator.Evaluate(proposal.Candidate);
            strategy.Tell(proposal, outcome);
            trials.Add(new Trial<T>(trials.Count, proposal, outcome));
        }

        return trials;
    }
}

/// <summary>
/// Uniform random sampling (NAS-Bench-201's RANDOM baseline). With <paramref name="seeds"/> it proposes that population
/// first, in order, as FairNAD does, so all strategies of a comparison spend their first candidates on the same seeds.
/// </summary>
public sealed class RandomSearch<T>(ISearchSpace<T> space, int seed, IReadOnlyList<(T Candidate, string Summary)>? seeds = null) : IAskTellStrategy<T>
{
    private readonly Random _random = new(seed);
    private int _asked;

    public string Name => "random";

    public ValueTask<Proposal<T>?> AskAsync(CancellationToken cancel = default)
    {
        var proposal = seeds is not null && _asked < seeds.Count ? Sampling.Seed(space, seeds[_asked]) : Sampling.Random(space, _random);
        _asked++;
        return ValueTask.FromResult<Proposal<T>?>(proposal);
    }

    public void Tell(Proposal<T> proposal, Outcome outcome)
    {
    }
}

/// <summary>
/// Regularized evolution (Real et al. 2019), as NAS-Bench-201 runs it: a population filled by random samples; then
/// repeatedly the best of a random tournament is mutated, the child joins, and the oldest member leaves. Asked before
/// the population is told, it keeps sampling, so a driver may evaluate several candidates at once. With
/// <paramref name="seeds"/> the population starts as that seed population (FairNAD's), in order, topped up with random
/// samples when it is smaller than <paramref name="population"/>; all seeds are proposed, the aging keeps the latest.
/// </summary>
public sealed class RegularizedEvolution<T>(ISearchSpace<T> space, int seed, int population = 10, int tournament = 3, IReadOnlyList<(T Candidate, string Summary)>? seeds = null)
    : IAskTellStrategy<T>
{
    private readonly Random _random = new(seed);
    private readonly List<(Proposal<T> Proposal, Outcome Outcome)> _alive = [];
    private int _asked;

    public string Name => "rea";

    public ValueTask<Proposal<T>?> AskAsync(CancellationToken cancel = default)
    {
        Proposal<T> proposal;
        if (seeds is not null && _asked < seeds.Count)
        {
            proposal = Sampling.Seed(space, seeds[_asked]);
        }
        else if (_asked < population || _alive.Count == 0)
        {
            proposal = Sampling.Random(space, _random);
        }
        else
        {
            var members = _alive.ToList();
            var parent = Enumerable.Range(0, tournament).Select(_ => members[_random.Next(members.Count)])
                .OrderByDescending(m => Outcome.RankKey(m.Outcome)).First();
            var (child, summary) = space is IDescribedMutation<T> { DescribesMutations: true } described
                ? described.MutateDescribed(parent.Proposal.Candidate, _random)
                : (space.Mutate(parent.Proposal.Candidate, _random), string.Empty);
            proposal = new Proposal<T>(child, space.Key(child), [parent.Proposal.Key], "mutation", Summary: summary);
        }

        _asked++;
        return ValueTask.FromResult<Proposal<T>?>(proposal);
    }

    public void Tell(Proposal<T> proposal, Outcome outcome)
    {
        // A higher rung's result of a living member replaces its outcome in place: the member does not become younger.
        var living = outcome.Rung > 0 ? _alive.FindIndex(m => m.Proposal.Key == proposal.Key) : -1;
        if (living >= 0)
        {
            _alive[living] = (_alive[living].Proposal, outcome);
            return;
        }

        if (outcome.Rung > 0)
        {
            return; // it left the population already; a promotion does not bring it back
        }

        _alive.Add((proposal, outcome));
        if (_alive.Count > population)
        {
            _alive.RemoveAt(0);
        }
    }
}

/// <summary>
/// Deduplication as middleware: a candidate whose key was already evaluated is not proposed again; the inner strategy is
/// told the recorded outcome instead, so it learns as if it had been evaluated, and is asked again. A repeat of a
/// candidate still being evaluated is told when the original's outcome arrives. After <paramref name="maxRedraws"/>
/// repeats in a row the space counts as exhausted.
/// </summary>
public sealed class Deduplicating<T>(IAskTellStrategy<T> inner, int maxRedraws = 200) : IAskTellStrategy<T>
{
    private readonly Dictionary<string, Outcome> _done = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Proposal<T>>> _pending = new(StringComparer.Ordinal);

    public string Name => inner.Name;

    /// <summary>How many proposals were repeats.</summary>
    public int Duplicates { get; private set; }

    public async ValueTask<Proposal<T>?> AskAsync(CancellationToken cancel = default)
    {
        for (var redraw = 0; redraw <= maxRedraws; redraw++)
        {
            var proposal = await inner.AskAsync(cancel).ConfigureAwait(false);
            if (proposal is null)
            {
                return null;
            }

            if (_done.TryGetValue(proposal.Key, out var known))
            {
                Duplicates++;
                inner.Tell(proposal, known);
            }
            else if (_pending.TryGetValue(proposal.Key, out var waiting))
            {
                Duplicates++;
                waiting.Add(proposal);
            }
            else
            {
                _pending[proposal.Key] = [];
                return proposal;
            }
        }

        return null;
    }

    public void Tell(Proposal<T> proposal, Outcome outcome)
    {
        // A candidate told again (a higher rung's result) is remembered with it, so later repeats hear the latest.
        _done[proposal.Key] = outcome;
        inner.Tell(proposal, outcome);
        if (_pending.Remove(proposal.Key, out var repeats))
        {
            foreach (var repeat in repeats)
            {
                inner.Tell(repeat, outcome);
            }
        }
    }
}

/// <summary>The NAS-Bench-201 cell space: six edges, five operations each; a mutation changes one edge to another operation.</summary>
public sealed class Nb201Space : ISearchSpace<string>, INeighbourhood<string>
{
    /// <summary>The 24 cells that differ from <paramref name="candidate"/> in one edge.</summary>
    public IEnumerable<string> Neighbours(string candidate)
    {
        var edges = Nb201.ParseEdges(candidate);
        for (var e = 0; e < edges.Length; e++)
        {
            foreach (var op in Nb201.Operations.Where(o => o != edges[e]))
            {
                var changed = edges.ToArray();
                changed[e] = op;
                yield return Nb201.FormatEdges(changed);
            }
        }
    }

    public string Sample(Random random) => Nb201.FormatEdges(Enumerable.Range(0, 6).Select(_ => Nb201.Operations[random.Next(Nb201.Operations.Count)]).ToArray());

    public string Mutate(string parent, Random random)
    {
        var edges = Nb201.ParseEdges(parent);
        var edge = random.Next(6);
        var others = Nb201.Operations.Where(o => o != edges[edge]).ToList();
        edges[edge] = others[random.Next(others.Count)];
        return Nb201.FormatEdges(edges);
    }

    public string Key(string candidate) => candidate;
}

/// <summary>
/// A NAS-Bench-201 table as the evaluator: validation accuracy by cell string, and the cost objective from
/// <paramref name="cost"/> (the Pareto-aware mutation needs it); test accuracy is kept for reporting only.
/// </summary>
public sealed class Nb201TableEvaluator(IReadOnlyDictionary<string, (double Validation, double Test)> table, Func<string, double>? cost = null) : IEvaluator<string>
{
    public Outcome Evaluate(string candidate) => table.TryGetValue(candidate, out var row) ? new Outcome(row.Validation, cost?.Invoke(candidate)) : Outcome.Failed("not-in-table");

    public double Test(string candidate) => table[candidate].Test;

    public IReadOnlyDictionary<string, (double Validation, double Test)> Rows => table;

    /// <summary>The highest test accuracy in the table (the optimum regret is measured against).</summary>
    public double BestTest => table.Values.Max(r => r.Test);

    /// <summary>
    /// The cell with the highest validation accuracy (ties: the higher test accuracy, then the cell string in ordinal
    /// order), with both accuracies: what a search that finds the validation optimum reports. It is the ceiling of the
    /// search's own objective, and its test accuracy need not be near <see cref="BestTest"/>.
    /// </summary>
    public (string Cell, double Validation, double Test) BestByValidation => table
        .OrderByDescending(kv => kv.Value.Validation).ThenByDescending(kv => kv.Value.Test).ThenBy(kv => kv.Key, StringComparer.Ordinal)
        .Select(kv => (kv.Key, kv.Value.Validation, kv.Value.Test)).First();

    /// <summary>The same table with a cost objective.</summary>
    public Nb201TableEvaluator WithCost(Func<string, double> costOf) => new(table, costOf);

    /// <summary>Reads a table CSV (columns 'arch str', 'validation accuracy', 'test accuracy').</summary>
    public static Nb201TableEvaluator Load(string path)
    {
        using var reader = new StreamReader(path);
        return Load(reader, path);
    }

    /// <summary>Reads a table CSV from <paramref name="reader"/>; errors name <paramref name="path"/>.</summary>
    public static Nb201TableEvaluator Load(TextReader reader, string path)
    {
        var header = reader.ReadLine()?.Split(',') ?? throw new FormatException($"{path} is empty");
        int Column(string name) => Array.IndexOf(header, name) is var i and >= 0 ? i : throw new FormatException($"{path}: no '{name}' column");
        var (arch, valid, test) = (Column("arch str"), Column("validation accuracy"), Column("test accuracy"));
        var rows = new Dictionary<string, (double, double)>(StringComparer.Ordinal);
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            var f = line.Split(',');
            rows[f[arch]] = (double.Parse(f[valid], System.Globalization.CultureInfo.InvariantCulture), double.Parse(f[test], System.Globalization.CultureInfo.InvariantCulture));
        }

        return new Nb201TableEvaluator(rows);
    }
}
