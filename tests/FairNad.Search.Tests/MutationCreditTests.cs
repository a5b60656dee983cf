namespace FairNad.Search.Tests;

/// <summary>Search rules 3: the mutation type is drawn by its share of the mix times its measured, smoothed success rate.</summary>
public sealed class MutationCreditTests
{
    private static FairNadStrategy<string> Strategy(MutationMix mix, int rules = 3, int seed = 7, bool feedback = true) =>
        new(new Nb201IdeaSpace(10), new FairNadOptions(mix, 10, Feedback: feedback, Rules: rules), seed);

    private static Proposal<string> Child(string key, string type, string parent) => new(key, key, [parent], type);

    private static Proposal<string> Seed(string key) => new(key, key, [], MutationTypes.Seed);

    private static MutationCredit Of(FairNadStrategy<string> strategy, string type) => strategy.MutationCredit.Single(c => c.MutationType == type);

    [Fact]
    public void MutationCredit_ScriptedTells_ProbabilitiesFollowPriorTimesSmoothedSuccessRate()
    {
        var strategy = Strategy(new MutationMix(0.6, 0.4, 0));
        strategy.Tell(Seed("a"), new Outcome(50, 1));
        strategy.Tell(Seed("b"), new Outcome(60, 1));
        strategy.Tell(Child("f1", MutationTypes.FairIdea, "a"), new Outcome(55, 1)); // trial, success
        strategy.Tell(Child("f2", MutationTypes.FairIdea, "b"), new Outcome(59, 1)); // trial, no success
        strategy.Tell(Child("f3", MutationTypes.FairIdea, "a"), new Outcome(null, null, "crash")); // an invalid child: trial, no success
        strategy.Tell(Child("f4", MutationTypes.FairIdea, "b"), new Outcome(60, 1)); // equal to the parent: trial, no success
        strategy.Tell(Child("p1", MutationTypes.Pareto, "b"), new Outcome(61, 1)); // trial, success
        strategy.Tell(Child("p1", MutationTypes.Pareto, "b"), new Outcome(61, 1)); // a repeat: not counted again
        strategy.Tell(Child("f1", MutationTypes.FairIdea, "a"), new Outcome(70, 1, Rung: 1)); // a promotion: not counted
        strategy.Tell(Child("p2", MutationTypes.Pareto, "a"), new Outcome(80, 1, Rung: 1)); // parent has no result at rung 1: not counted
        strategy.Tell(Child("p3", MutationTypes.Pareto, "unknown"), new Outcome(80, 1)); // parent never told: not counted

        var fair = Of(strategy, MutationTypes.FairIdea);
        var pareto = Of(strategy, MutationTypes.Pareto);
        var llm = Of(strategy, MutationTypes.Llm);

        Assert.Equal((1, 4), (fair.Successes, fair.Trials));
        Assert.Equal((1, 1), (pareto.Successes, pareto.Trials));
        Assert.Equal((0, 0), (llm.Successes, llm.Trials));
        var fairWeight = 0.6 * (1 + 1) / (4 + 2.0);
        var paretoWeight = 0.4 * (1 + 1) / (1 + 2.0);
        Assert.Equal(fairWeight / (fairWeight + paretoWeight), fair.Probability, 12);
        Assert.Equal(paretoWeight / (fairWeight + paretoWeight), pareto.Probability, 12);
        Assert.Equal(0, llm.Probability);
        Assert.Equal(1, strategy.MutationCredit.Sum(c => c.Probability), 12);
        Assert.Equal([0.6, 0.4, 0], strategy.MutationCredit.Select(c => c.Prior));
    }

    [Fact]
    public void MutationCredit_BeforeAnyTrial_ProbabilitiesAreTheMix()
    {
        var strategy = Strategy(new MutationMix(0.4, 0.3, 0.3).Effective([MutationTypes.Llm]));

        Assert.Equal(0.4 / 0.7, Of(strategy, MutationTypes.FairIdea).Probability, 12);
        Assert.Equal(0.3 / 0.7, Of(strategy, MutationTypes.Pareto).Probability, 12);
        Assert.Equal(0, Of(strategy, MutationTypes.Llm).Probability);
    }

    [Fact]
    public void MutationCredit_FeedbackOff_CountsButKeepsTheMix()
    {
        var strategy = Strategy(new MutationMix(0.5, 0.5, 0), feedback: false);
        strategy.Tell(Seed("a"), new Outcome(50, 1));
        strategy.Tell(Child("f1", MutationTypes.FairIdea, "a"), new Outcome(40, 1));

        Assert.Equal((0, 1), (Of(strategy, MutationTypes.FairIdea).Successes, Of(strategy, MutationTypes.FairIdea).Trials));
        Assert.Equal(0.5, Of(strategy, MutationTypes.FairIdea).Probability, 12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MutationCredit_EarlierRules_Empty(int rules)
    {
        var strategy = Strategy(new MutationMix(0.5, 0.5, 0), rules);
        strategy.Tell(Seed("a"), new Outcome(50, 1));
        strategy.Tell(Child("f1", MutationTypes.FairIdea, "a"), new Outcome(55, 1));

        Assert.Empty(strategy.MutationCredit);
    }

    [Fact]
    public void Run_Rules3DisabledTypes_NeverDrawn()
    {
        var onlyPareto = Strategy(new MutationMix(0.4, 0.3, 0.3).Effective([MutationTypes.FairIdea, MutationTypes.Llm]));
        var noLlm = Strategy(new MutationMix(0.4, 0.3, 0.3).Effective([MutationTypes.Llm]));

        var paretoTrials = StrategyDriver.Run(new Deduplicating<string>(onlyPareto), Nb201Tables.Load("cifar100"), 80);
        var mixedTrials = StrategyDriver.Run(new Deduplicating<string>(noLlm), Nb201Tables.Load("cifar100"), 80);

        Assert.All(paretoTrials.Skip(10), t => Assert.Equal(MutationTypes.Pareto, t.Proposal.MutationType));
        Assert.Equal(0, Of(onlyPareto, MutationTypes.FairIdea).Probability);
        Assert.Equal(1, Of(onlyPareto, MutationTypes.Pareto).Probability, 12);
        Assert.DoesNotContain(mixedTrials, t => t.Proposal.MutationType == MutationTypes.Llm);
        Assert.Contains(mixedTrials, t => t.Proposal.MutationType == MutationTypes.FairIdea);
        Assert.Contains(mixedTrials, t => t.Proposal.MutationType == MutationTypes.Pareto);
        Assert.Equal(0, Of(noLlm, MutationTypes.Llm).Probability);
    }

    [Fact]
    public void Run_Rules3_CountsEveryNewMutatedChildAndTheMixMoves()
    {
        var strategy = Strategy(new MutationMix(0.5, 0.5, 0));

        var trials = StrategyDriver.Run(new Deduplicating<string>(strategy), Nb201Tables.Load("cifar100"), 120);

        // Without a ladder every parent has a result at rung 0, so every mutated child is a trial of its type.
        var mutated = trials.Where(t => t.Proposal.MutationType != MutationTypes.Seed).ToList();
        Assert.Equal(mutated.Count, strategy.MutationCredit.Sum(c => c.Trials));
        foreach (var type in new[] { MutationTypes.FairIdea, MutationTypes.Pareto })
        {
            var ofType = mutated.Where(t => t.Proposal.MutationType == type).ToList();
            var improved = ofType.Count(t => t.Outcome.Accuracy > trials.First(p => p.Key == t.Proposal.Parents[0]).Outcome.Accuracy);
            Assert.Equal((improved, ofType.Count), (Of(strategy, type).Successes, Of(strategy, type).Trials));
        }

        Assert.NotEqual(0.5, Of(strategy, MutationTypes.FairIdea).Probability, 6);
    }

    [Fact]
    public void Run_Rules3SameSeed_SameProposalsAndCredit()
    {
        IReadOnlyList<Trial<string>> Once(int budget, out IReadOnlyList<MutationCredit> credit)
        {
            var strategy = Strategy(new MutationMix(0.5, 0.5, 0), seed: 11);
            var trials = StrategyDriver.Run(new Deduplicating<string>(strategy), Nb201Tables.Load("ImageNet16-120"), budget);
            credit = strategy.MutationCredit;
            return trials;
        }

        var a = Once(100, out var creditA);
        var b = Once(100, out var creditB);
        var shorter = Once(60, out _);

        Assert.Equal(a.Select(t => (t.Key, t.Proposal.MutationType, t.Proposal.Attribute)), b.Select(t => (t.Key, t.Proposal.MutationType, t.Proposal.Attribute)));
        Assert.Equal(creditA, creditB);
        // What a run proposes depends only on what it was told before: a run stopped early proposed the same (as a resume replays).
        Assert.Equal(a.Take(60).Select(t => t.Key), shorter.Select(t => t.Key));
    }

    [Fact]
    public void Run_Rules3_FairNadDiffersFromRules2BaselinesDoNot()
    {
        string Curves(string strategy, int rules) => Nb201Benchmark.AnytimeCsv(Nb201Benchmark.Run(new Nb201BenchmarkSettings(["cifar100"], [strategy], [60], 4, Rules: rules)));

        Assert.NotEqual(Curves("fairnad", 2), Curves("fairnad", 3));
        Assert.Equal(Curves("rea", 2), Curves("rea", 3));
        // One mutation type left: nothing to choose between, so rules 3 propose what rules 2 do.
        Assert.Equal(Curves("fairnad-no-pareto", 2), Curves("fairnad-no-pareto", 3));
    }
}
