namespace FairNad.Search.Tests;

/// <summary>
/// Search rules 4: fair-idea tournaments draw from their own aging pool, which a Pareto-aware child joins only when it
/// is more accurate than the pool's median; the front still takes every valid candidate.
/// </summary>
public sealed class TournamentPoolTests
{
    /// <summary>
    /// A fair-idea-only strategy with an aging population of one, its one seed asked and told at 70 % and then a
    /// Pareto-aware child of the seed told at <paramref name="paretoAccuracy"/>; returns that child's key and the
    /// parent of the next fair-idea proposal.
    /// </summary>
    private static async Task<(string Pareto, string Seed, string Parent)> NextFairIdeaParent(int rules, double paretoAccuracy)
    {
        var space = new Nb201IdeaSpace(1);
        var strategy = new FairNadStrategy<string>(space, new FairNadOptions(new MutationMix(1, 0, 0), 1, Rules: rules), 5);
        var seed = await strategy.AskAsync();
        Assert.NotNull(seed);
        Assert.Equal(MutationTypes.Seed, seed.MutationType);
        strategy.Tell(seed, new Outcome(70, 1));

        var cell = Enumerable.Range(0, 100).Select(i => space.Sample(new Random(i))).First(c => c != seed.Key);
        strategy.Tell(new Proposal<string>(cell, cell, [seed.Key], MutationTypes.Pareto), new Outcome(paretoAccuracy, 0.5));

        var next = await strategy.AskAsync();
        Assert.NotNull(next);
        Assert.Equal(MutationTypes.FairIdea, next.MutationType);
        return (cell, seed.Key, next.Parents[0]);
    }

    [Fact]
    public async Task Ask_Rules4ParetoChildBelowPoolMedian_FairIdeaParentStaysInThePool()
    {
        var (pareto, seed, parent) = await NextFairIdeaParent(4, 40);

        Assert.NotEqual(pareto, parent);
        Assert.Equal(seed, parent);
    }

    [Fact]
    public async Task Ask_Rules4ParetoChildAbovePoolMedian_JoinsTheTournamentPool()
    {
        var (pareto, _, parent) = await NextFairIdeaParent(4, 90);

        Assert.Equal(pareto, parent);
    }

    [Fact]
    public async Task Ask_Rules2ParetoChildBelowPoolMedian_DisplacesTheAgingPopulation()
    {
        var (pareto, _, parent) = await NextFairIdeaParent(2, 40);

        Assert.Equal(pareto, parent);
    }

    [Fact]
    public void Run_Rules4_FairNadDiffersFromRules2SingleTypesAndBaselinesDoNot()
    {
        string Curves(string strategy, int rules) => Nb201Benchmark.AnytimeCsv(Nb201Benchmark.Run(new Nb201BenchmarkSettings(["cifar100"], [strategy], [60], 4, Rules: rules)));

        Assert.NotEqual(Curves("fairnad", 2), Curves("fairnad", 4));
        Assert.Equal(Curves("rea", 2), Curves("rea", 4));
        // Without both types there is nothing to keep apart: fair-idea alone has no Pareto child, Pareto alone no tournament.
        Assert.Equal(Curves("fairnad-no-pareto", 2), Curves("fairnad-no-pareto", 4));
        Assert.Equal(Curves("fairnad-no-fair-idea", 2), Curves("fairnad-no-fair-idea", 4));
    }

    [Fact]
    public void Run_Rules4SameSeed_SameProposals()
    {
        IEnumerable<string> Once(int budget) => StrategyDriver.Run(new Deduplicating<string>(Nb201Benchmark.Create("fairnad", 11, 4)), Nb201Tables.Load("ImageNet16-120"), budget).Select(t => t.Key);

        var a = Once(100).ToList();

        Assert.Equal(a, Once(100));
        // What a run proposes depends only on what it was told before: a run stopped early proposed the same (as a resume replays).
        Assert.Equal(a.Take(60), Once(60));
    }
}
