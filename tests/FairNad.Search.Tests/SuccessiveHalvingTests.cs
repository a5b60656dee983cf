namespace FairNad.Search.Tests;

public sealed class SuccessiveHalvingTests
{
    [Fact]
    public void NextPromotion_FewerResultsThanOneOverFraction_PromotesNothing()
    {
        var asha = new SuccessiveHalving(2, 0.34);
        asha.Report("a", 0, 80);
        asha.Report("b", 0, 70);

        Assert.Null(asha.NextPromotion());
    }

    [Fact]
    public void NextPromotion_TopThirdOfRung_PromotesBestOnceAndToNextRung()
    {
        var asha = new SuccessiveHalving(3, 1.0 / 3);
        asha.Report("a", 0, 70);
        asha.Report("b", 0, 85);
        asha.Report("c", 0, 60);

        Assert.Equal(new Promotion("b", 1), asha.NextPromotion());
        Assert.Null(asha.NextPromotion());
    }

    [Fact]
    public void NextPromotion_CandidateFallsOutOfTopFractionLater_StaysPromotedAndNextBestIsNotAddedUntilQuotaGrows()
    {
        var asha = new SuccessiveHalving(2, 0.34);
        foreach (var (key, accuracy) in new[] { ("a", 50.0), ("b", 40.0), ("c", 30.0) })
        {
            asha.Report(key, 0, accuracy);
        }

        Assert.Equal("a", asha.NextPromotion()!.Key);
        asha.Report("d", 0, 90);
        asha.Report("e", 0, 95);

        // 5 results: quota 1; the top one (e) was not promoted yet, so it is.
        Assert.Equal("e", asha.NextPromotion()!.Key);
        Assert.Null(asha.NextPromotion());
        asha.Report("f", 0, 10);

        // 6 results: quota 2 (e, d): d is promoted now.
        Assert.Equal("d", asha.NextPromotion()!.Key);
    }

    [Fact]
    public void NextPromotion_HigherRungQualifies_ServedBeforeLowerRung()
    {
        var asha = new SuccessiveHalving(3, 0.5);
        asha.Report("a", 0, 90);
        asha.Report("b", 0, 80);
        Assert.Equal(new Promotion("a", 1), asha.NextPromotion());
        asha.Report("a", 1, 91);
        asha.Report("c", 0, 85);
        asha.Report("d", 0, 10);
        Assert.Equal(new Promotion("c", 1), asha.NextPromotion());
        asha.Report("c", 1, 70);

        // Rung 1 has two results (quota 1: a) and rung 0 four (quota 2: a, c, both promoted): a goes to rung 2.
        Assert.Equal(new Promotion("a", 2), asha.NextPromotion());
        Assert.Null(asha.NextPromotion());
    }

    [Fact]
    public void NextPromotion_FailedResults_CountInTheRungButAreNeverPromoted()
    {
        var asha = new SuccessiveHalving(2, 0.5);
        asha.Report("a", 0, null);
        asha.Report("b", 0, null);
        asha.Report("c", 0, 12);
        asha.Report("d", 0, null);

        Assert.Equal("c", asha.NextPromotion()!.Key);
        Assert.Null(asha.NextPromotion());
    }

    [Fact]
    public void NextPromotion_TiedAccuracy_EarlierReportedFirst()
    {
        var asha = new SuccessiveHalving(2, 0.34);
        asha.Report("late", 0, 10);
        asha.Report("x", 0, 70);
        asha.Report("y", 0, 70);

        Assert.Equal("x", asha.NextPromotion()!.Key);
    }

    [Fact]
    public void NextPromotion_SameResultsWhateverOrderEvaluationsFinished_SameDecisions()
    {
        // The search reports in batch order, not completion order; two schedulers fed the same recorded sequence decide
        // alike however long each evaluation took, and a decision never depends on anything but that sequence.
        var random = new Random(7);
        var results = Enumerable.Range(0, 60).Select(i => ($"c{i:D2}", Math.Round(random.NextDouble() * 100, 2))).ToList();
        IReadOnlyList<Promotion> Drive(int[] finishOrder)
        {
            var asha = new SuccessiveHalving(3, 0.34);
            var decisions = new List<Promotion>();
            var pending = new List<Promotion>();
            foreach (var batch in results.Chunk(4))
            {
                // Evaluations finish in finishOrder, but are reported (told) in batch order.
                var finished = finishOrder.Where(i => i < batch.Length).Select(i => batch[i]).ToList();
                Assert.Equal(batch.Length, finished.Count);
                foreach (var (key, accuracy) in batch)
                {
                    asha.Report(key, 0, accuracy);
                }

                foreach (var promotion in pending)
                {
                    asha.Report(promotion.Key, promotion.Rung, results.Single(r => r.Item1 == promotion.Key).Item2 + promotion.Rung);
                }

                pending.Clear();
                while (asha.NextPromotion() is { } next)
                {
                    decisions.Add(next);
                    pending.Add(next);
                }
            }

            return decisions;
        }

        var inOrder = Drive([0, 1, 2, 3]);
        var reversed = Drive([3, 2, 1, 0]);

        Assert.NotEmpty(inOrder);
        Assert.Contains(inOrder, p => p.Rung == 2);
        Assert.Equal(inOrder, reversed);
    }

    [Fact]
    public void Report_ToARungNotPromotedTo_Refused()
    {
        var asha = new SuccessiveHalving(2, 0.5);
        asha.Report("a", 0, 50);

        var e = Assert.Throws<ArgumentException>(() => asha.Report("a", 1, 60));

        Assert.Contains("was not promoted to rung 1", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => asha.Report("a", 0, 50));
    }

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(2, 0)]
    [InlineData(2, 1)]
    public void Constructor_BadLadder_Refused(int rungs, double fraction) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new SuccessiveHalving(rungs, fraction));

    [Fact]
    public void PooledSpread_TwoArchitectures_PoolsDeviationsFromEachMean()
    {
        // Group 1: 80, 82 (mean 81, squares 2); group 2: 70, 73, 76 (mean 73, squares 18); 20 / 3 degrees of freedom.
        var spread = SeedNoise.PooledSpread([[80, 82], [70, 73, 76], [99]]);

        Assert.Equal(Math.Sqrt(20.0 / 3), spread!.Value, 12);
        Assert.Equal(spread.Value * Math.Sqrt(2), SeedNoise.Threshold(spread.Value), 12);
        Assert.Null(SeedNoise.PooledSpread([[1], [2]]));
    }

    [Fact]
    public void FeedbackLedger_NoiseThreshold_CountsOnlyGainsBeyondItAtThatRung()
    {
        var ledger = new FeedbackLedger();
        ledger.Record(new MutationOutcome("a", "c", true, 0.4, 0, null));
        ledger.Record(new MutationOutcome("a", "c", true, 2.0, 0, null));
        ledger.Record(new MutationOutcome("a", "c", true, 0.4, 0, null, Rung: 1));
        Assert.Equal(3, ledger.For("a")!.Improved);

        ledger.SetNoise(0, 1.0);

        // Applies to outcomes recorded before it was set as well; rung 1 has no threshold yet, so any gain counts there.
        Assert.Equal(2, ledger.For("a")!.Improved);
        Assert.Equal(-1.0, ledger.Penalty("a"));
        Assert.True(ledger.Improves(1.01, 0));
        Assert.False(ledger.Improves(1.0, 0));
    }

    [Fact]
    public void ParetoFront_ResultsOfTwoRungs_HigherRungOutranksAnyLowerRungAccuracy()
    {
        var front = ParetoFront.Front(
        [
            new Objectives("short-good", 90, 100, Rung: 0),
            new Objectives("long", 85, 100, Rung: 1),
            new Objectives("cheap", 60, 50, Rung: 0),
        ]);

        Assert.Equal(["cheap", "long"], front.Select(p => p.Id));
        Assert.True(new Outcome(50, Rung: 1).Outranks(new Outcome(99, Rung: 0)));
        Assert.True(new Outcome(1, Rung: 0).Outranks(Outcome.Failed("crash")));
    }
}
