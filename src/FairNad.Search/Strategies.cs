using FairNad.Architecture;

namespace FairNad.Search;

/// <summary>Where a strategy searches: how to draw a candidate, mutate one, and identify it (for deduplication).</summary>
public interface ISearchSpace<T>
{
    T Sample(Random random);

    T Mutate(T parent, Random random);

    string Key(T candidate);
}

/// <summary>What a candidate is worth: validation accuracy, or null when it failed.</summary>
public interface IEvaluator<T>
{
    double? Evaluate(T candidate);
}

/// <summary>One evaluated candidate, in query order.</summary>
public sealed record Trial<T>(int Index, T Candidate, string Key, double? Validation, string? ParentKey);

/// <summary>A search strategy: spends a query budget and returns every trial; deterministic for a seed.</summary>
public interface IStrategy<T>
{
    string Name { get; }

    IReadOnlyList<Trial<T>> Run(ISearchSpace<T> space, IEvaluator<T> evaluator, int budget, int seed);
}

/// <summary>Uniform random sampling (NAS-Bench-201's RANDOM baseline).</summary>
public sealed class RandomSearch<T> : IStrategy<T>
{
    public string Name => "random";

    public IReadOnlyList<Trial<T>> Run(ISearchSpace<T> space, IEvaluator<T> evaluator, int budget, int seed)
    {
        var random = new Random(seed);
        var trials = new List<Trial<T>>();
        for (var i = 0; i < budget; i++)
        {
            var candidate = space.Sample(random);
            trials.Add(new Trial<T>(i, candidate, space.Key(candidate), evaluator.Evaluate(candidate), null));
        }

        return trials;
    }
}

/// <summary>
/// Regularized evolution (Real et al. 2019), as NAS-Bench-201 runs it: a population filled by random samples; then
/// repeatedly the best of a random tournament is mutated, the child joins, and the oldest member leaves.
/// </summary>
public sealed class RegularizedEvolution<T>(int population = 10, int tournament = 3) : IStrategy<T>
{
    public string Name => "rea";

    public IReadOnlyList<Trial<T>> Run(ISearchSpace<T> space, IEvaluator<T> evaluator, int budget, int seed)
    {
        var random = new Random(seed);
        var trials = new List<Trial<T>>();
        var alive = new Queue<Trial<T>>();
        for (var i = 0; i < budget; i++)
        {
            Trial<T> trial;
            if (alive.Count < population)
            {
                var candidate = space.Sample(random);
                trial = new Trial<T>(i, candidate, space.Key(candidate), evaluator.Evaluate(candidate), null);
            }
            else
            {
                var members = alive.ToList();
                var parent = Enumerable.Range(0, tournament).Select(_ => members[random.Next(members.Count)])
                    .OrderByDescending(m => m.Validation ?? double.NegativeInfinity).First();
                var child = space.Mutate(parent.Candidate, random);
                trial = new Trial<T>(i, child, space.Key(child), evaluator.Evaluate(child), parent.Key);
                alive.Dequeue();
            }

            alive.Enqueue(trial);
            trials.Add(trial);
        }

        return trials;
    }
}

/// <summary>The NAS-Bench-201 cell space: six edges, five operations each; a mutation changes one edge to another operation.</summary>
public sealed class Nb201Space : ISearchSpace<string>
{
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

/// <summary>A NAS-Bench-201 table as the evaluator: validation accuracy by cell string; test accuracy kept for reporting.</summary>
public sealed class Nb201TableEvaluator(IReadOnlyDictionary<string, (double Validation, double Test)> table) : IEvaluator<string>
{
    public double? Evaluate(string candidate) => table.TryGetValue(candidate, out var row) ? row.Validation : null;

    public double Test(string candidate) => table[candidate].Test;

    /// <summary>Reads a table CSV (columns 'arch str', 'validation accuracy', 'test accuracy').</summary>
    public static Nb201TableEvaluator Load(string path)
    {
        using var reader = new StreamReader(path);
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
