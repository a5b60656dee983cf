using FairNad.Evaluation.Training;

namespace FairNad.Cli.Tests;

using static Cli;

public sealed class EvaluateCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-cli-evaluate-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly string[] Tiny = ["--params", "20000", "--epochs", "1", "--train-subset", "200", "--validation-subset", "100", "--batch-size", "50"];

    [Fact]
    public void Evaluate_InProcess_PrintsMetricsAndWritesDocument()
    {
        var path = Path.Combine(_directory, "r.json");

        var (code, output, error) = Run(["evaluate", "resnet", .. Tiny, "--out", path]);

        Assert.True(code == 0, output + error);
        Assert.Contains("accuracy    validation best", output);
        Assert.Contains("epoch   1/1", error);
        var result = EvaluationResult.Parse(File.ReadAllText(path), path);
        Assert.Equal(("ok", 1, 200), (result.Status, result.TrainLoss.Count, result.Config.TrainSubset));
    }

    [Fact]
    public void Evaluate_SeveralCandidatesInWorkers_OneDocumentEach()
    {
        var outDirectory = Path.Combine(_directory, "evals");

        var (code, output, error) = Run(["evaluate", "resnet", "shufflenetv2", .. Tiny, "--jobs", "2", "--out-dir", outDirectory, "--timeout", "300"]);

        Assert.True(code == 0, output + error);
        Assert.Contains("evaluating 2 candidate(s) in 2 worker(s)", error);
        var documents = Directory.GetFiles(outDirectory, "*.json").Where(f => !f.EndsWith(".spec.json", StringComparison.Ordinal) && !f.EndsWith(".config.json", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, documents.Count);
        Assert.All(documents, d => Assert.Equal("ok", EvaluationResult.Parse(File.ReadAllText(d), d).Status));
    }

    [Fact]
    public void Evaluate_BadFidelity_ExitsTwo()
    {
        var (code, _, error) = Run("evaluate", "resnet", "--fidelity", "medium");

        Assert.Equal(2, code);
        Assert.Contains("--fidelity must be quick or full", error);
    }
}
