using FairNad.Architecture;
using FairNad.Data;
using FairNad.Evaluation.Training;
using Xunit.Abstractions;

namespace FairNad.Experiments.Tests;

/// <summary>
/// The quickstart's training recipe, as the shipped file says it: every seed architecture (each reference, width-scaled
/// to the budget) learns at the quickstart's fidelity on the embedded Fashion-MNIST subset that a fresh clone trains on.
/// A seed at chance level there is a bug in the recipe or the seed, not an outcome (issue 16): one epoch of 20 steps with
/// random crops and flips once left 8 of 24 candidates at 10%.
/// </summary>
[Trait("Category", "Slow")]
public sealed class QuickstartRecipeTests(QuickstartRecipeTests.Data data, ITestOutputHelper output) : IClassFixture<QuickstartRecipeTests.Data>
{
    /// <summary>
    /// Three times chance (10 classes). Training on the CPU is bit-exact for a fixed thread count (the file's threads), so
    /// on one host each accuracy is one number, not a draw; the margin is for hosts whose kernels round differently (a CPU
    /// without NNPACK moved a quick ResNet by 1.8 points). Every reference measured at least 12 points above it on this
    /// machine (see experiments/README.md).
    /// </summary>
    public const double ClearlyAboveChance = 30.0;

    public static TheoryData<string> QuickstartReferences => new(Data.Quickstart.References);

    [Theory]
    [MemberData(nameof(QuickstartReferences))]
    public void Evaluate_QuickstartSeedAtQuickstartFidelity_BeatsChanceClearly(string reference)
    {
        var seed = WidthScaler.ScaleToBudget(ReferenceArchitectures.Get(reference, data.Tensors.Input), Data.Quickstart.ParameterBudget).Spec;

        var result = Trainer.Evaluate(seed, data.Tensors, data.Config);

        output.WriteLine(System.FormattableString.Invariant(
            $"{reference}: validation {result.BestValidationAccuracy:F2}%, test {result.TestAccuracy:F2}%, loss {string.Join(" ", result.TrainLoss.Select(l => l.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)))}, weights {result.WeightsSha256}"));
        Assert.Equal("ok", result.Status);
        Assert.True(result.BestValidationAccuracy >= ClearlyAboveChance,
            $"{reference} at quickstart fidelity: validation {result.BestValidationAccuracy:F2}% < {ClearlyAboveChance}%");
        Assert.True(result.TestAccuracy >= ClearlyAboveChance, $"{reference} at quickstart fidelity: test {result.TestAccuracy:F2}% < {ClearlyAboveChance}%");
    }

    [Fact]
    public void Quickstart_Fidelity_IsTheOneThisTestTrainsAt()
    {
        // What the seeds train on in a search: the experiment's fidelity with its first seed, on the embedded subset.
        Assert.Equal(Data.Quickstart.Fidelity.ToConfig(Data.Quickstart.Seeds[0]), data.Config);
        Assert.StartsWith("embedded Fashion-MNIST subset", data.Tensors.Splits.Source, StringComparison.Ordinal);
    }

    /// <summary>The quickstart file, and its training data prepared once for all references.</summary>
    public sealed class Data : IDisposable
    {
        public Data()
        {
            Config = Quickstart.Fidelity.ToConfig(Quickstart.Seeds[0]);
            // A folder without datasets: the embedded subset, as on a fresh clone, even where the full Fashion-MNIST is installed.
            var splits = DatasetCatalog.Load(Quickstart.Dataset, Path.Combine(Path.GetTempPath(), "fairnad-no-data"));
            Tensors = TensorData.Prepare(splits, Config);
        }

        public static Experiment Quickstart => ExperimentFile.Load(Path.Combine(AppContext.BaseDirectory, "experiments", "quickstart.json"));

        public TrainingConfig Config { get; }

        public TensorData Tensors { get; }

        public void Dispose() => Tensors.Dispose();
    }
}
