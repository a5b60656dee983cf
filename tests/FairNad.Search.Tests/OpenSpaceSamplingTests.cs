using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Search.Tests;

/// <summary>The open-space comparison's sampling: seeds across budget fractions, random edit depths from a stated range, baselines from the seed population.</summary>
public sealed class OpenSpaceSamplingTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);

    [Fact]
    public void ScaledReferences_Fractions_EachReferenceAtEachShareOfTheBudget()
    {
        double[] fractions = [0.25, 0.5, 1.0];

        var seeds = ArchitectureSpace.ScaledReferences(["resnet", "mlp_mixer"], Fashion, 40_000, fractions);

        Assert.Equal(6, seeds.Count);
        Assert.Equal(seeds.Count, seeds.Select(s => s.Id).Distinct().Count());
        for (var i = 0; i < seeds.Count; i++)
        {
            var parameters = ArchitectureAnalyzer.Analyze(seeds[i]).Parameters;
            var share = 40_000 * fractions[i % 3];
            Assert.InRange((double)parameters, share * 0.5, share);
        }
    }

    [Fact]
    public void ScaledReferences_WholeBudgetOnly_SameSeedsAsBefore()
    {
        var before = ArchitectureSpace.ScaledReferences(["resnet", "mobilenetv2", "convnext"], Fashion, 20_000);

        var now = ArchitectureSpace.ScaledReferences(["resnet", "mobilenetv2", "convnext"], Fashion, 20_000, [1.0]);

        Assert.Equal(before.Select(s => s.Id), now.Select(s => s.Id));
    }

    [Fact]
    public void ScaledReferences_RepeatedShare_KeptOnce()
    {
        var seeds = ArchitectureSpace.ScaledReferences(["resnet"], Fashion, 20_000, [1.0, 0.99999]);

        Assert.Single(seeds);
    }

    [Fact]
    public void ScaledReferences_FractionOutOfRange_ArgumentException()
    {
        Assert.Throws<ArgumentException>(() => ArchitectureSpace.ScaledReferences(["resnet"], Fashion, 20_000, [0.5, 1.5]));
        Assert.Throws<ArgumentException>(() => ArchitectureSpace.ScaledReferences(["resnet"], Fashion, 20_000, [0]));
    }

    [Fact]
    public void SampleDescribed_EditRange_DepthsUniformOverTheRangeAndRecorded()
    {
        var seeds = ArchitectureSpace.ScaledReferences(["resnet", "convnext"], Fashion, 20_000);
        var space = new ArchitectureSpace(AttributeTree.Default(), seeds, 20_000, maxSampleMutations: 4, minSampleMutations: 1) { DescribesSamples = true };
        var random = new Random(3);

        var depths = Enumerable.Range(0, 200).Select(_ => ArchitectureSpace.SampleDepth(space.SampleDescribed(random).Summary)).ToList();

        Assert.All(depths, d => Assert.InRange(d!.Value, 1, 4));
        Assert.Equal([1, 2, 3, 4], depths.Select(d => d!.Value).Distinct().Order());
        Assert.All(depths.GroupBy(d => d), g => Assert.InRange(g.Count(), 30, 70));
    }

    [Fact]
    public void Sample_DefaultSpace_SameDrawsAsTheSeedPlusUpToTwoEdits()
    {
        var seeds = ArchitectureSpace.ScaledReferences(["resnet", "convnext"], Fashion, 20_000);
        var space = new ArchitectureSpace(AttributeTree.Default(), seeds, 20_000);
        var (a, b) = (new Random(5), new Random(5));

        for (var i = 0; i < 20; i++)
        {
            // The rule random samples always followed: a uniformly drawn seed, then 0, 1 or 2 edits.
            var expected = seeds[b.Next(seeds.Count)];
            var steps = b.Next(3);
            for (var s = 0; s < steps; s++)
            {
                expected = space.Mutate(expected, b);
            }

            var (sample, summary) = space.SampleDescribed(a);
            Assert.Equal(expected.Id, sample.Id);
            Assert.Equal(string.Empty, summary);
        }
    }

    [Fact]
    public void SampleDepth_OtherSummary_Null()
    {
        var seed = ArchitectureSpace.ScaledReferences(["resnet"], Fashion, 20_000)[0];

        Assert.Equal(7, ArchitectureSpace.SampleDepth(ArchitectureSpace.DescribeSample(7, seed)));
        Assert.Equal(1, ArchitectureSpace.SampleDepth(ArchitectureSpace.DescribeSample(1, seed)));
        Assert.Null(ArchitectureSpace.SampleDepth(string.Empty));
        Assert.Null(ArchitectureSpace.SampleDepth("resnet scaled to 19,000 parameters"));
    }

    [Fact]
    public void Constructor_FewestEditsAboveMost_ArgumentException()
    {
        var seeds = ArchitectureSpace.ScaledReferences(["resnet"], Fashion, 20_000);

        Assert.Throws<ArgumentException>(() => new ArchitectureSpace(AttributeTree.Default(), seeds, 20_000, maxSampleMutations: 2, minSampleMutations: 3));
    }

    [Theory]
    [InlineData("random")]
    [InlineData("rea")]
    public void Create_BaselineSeeds_SeedPopulationFirstThenItsOwnProposals(string strategy)
    {
        var seeds = ArchitectureSpace.ScaledReferences(["resnet", "convnext", "mlp_mixer"], Fashion, 20_000, [0.5, 1.0]);
        var space = new ArchitectureSpace(AttributeTree.Default(), seeds, 20_000, maxSampleMutations: 5, minSampleMutations: 1) { DescribesSamples = true };
        var choice = StrategyChoice.Parse(strategy, llmOff: true);

        var created = choice.Create(space, 0, new MutationMix(0.5, 0.5, 0), population: 4, tournament: 2, baselineSeeds: space.InitialPopulation(new Random(0)));
        var trials = StrategyDriver.Run(new Deduplicating<ArchitectureSpec>(created), new ByParameters(), 14);

        Assert.Equal(seeds.Select(s => s.Id), trials.Take(seeds.Count).Select(t => t.Key));
        Assert.All(trials.Take(seeds.Count), t => Assert.Equal(MutationTypes.Seed, t.Proposal.MutationType));
        Assert.All(trials.Skip(seeds.Count), t => Assert.Equal(strategy == "rea" ? "mutation" : "random", t.Proposal.MutationType));
        if (strategy == "random")
        {
            Assert.All(trials.Skip(seeds.Count), t => Assert.InRange(ArchitectureSpace.SampleDepth(t.Proposal.Summary)!.Value, 1, 5));
        }
    }

    [Fact]
    public void Create_NoBaselineSeeds_ReaStartsFromRandomSamplesAsBefore()
    {
        var seeds = ArchitectureSpace.ScaledReferences(["resnet", "convnext"], Fashion, 20_000);
        var space = new ArchitectureSpace(AttributeTree.Default(), seeds, 20_000);

        var trials = StrategyDriver.Run(StrategyChoice.Parse("rea").Create(space, 0, new MutationMix(1, 0, 0), 4, 2), new ByParameters(), 6);

        Assert.All(trials.Take(4), t => Assert.Equal("random", t.Proposal.MutationType));
        Assert.All(trials, t => Assert.Equal(string.Empty, t.Proposal.Summary));
    }

    private sealed class ByParameters : IEvaluator<ArchitectureSpec>
    {
        public Outcome Evaluate(ArchitectureSpec candidate)
        {
            var parameters = ArchitectureAnalyzer.Analyze(candidate).Parameters;
            return new Outcome(50 + (parameters / 1000.0) + (Convert.ToInt32(candidate.Id[..2], 16) / 64.0), parameters);
        }
    }
}
