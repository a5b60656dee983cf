using FairNad.Evaluation.Training;
using LibGit2Sharp;

namespace FairNad.Cli.Tests;

using static Cli;

public sealed class SearchCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-cli-search-").FullName;

    public void Dispose()
    {
        foreach (var file in Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories))
        {
            File.SetAttributes(file, FileAttributes.Normal);
        }

        Directory.Delete(_directory, recursive: true);
    }

    private const string Tiny = """
        {
          "schema": 1, "name": "cli", "dataset": "fashion-mnist",
          "fidelity": { "epochs": 1, "batchSize": 50, "learningRate": 0.05, "trainSubset": 100, "validationSubset": 50, "latencyRepeats": 1 },
          "parameterBudget": 20000, "references": ["resnet", "convnext"], "population": 2, "batch": 2,
          "budget": { "candidates": 4 }, "mutation": { "fairIdea": 1, "pareto": 0, "llm": 0 }, "seeds": [3],
          "evaluation": { "jobs": 1, "isolated": false }
        }
        """;

    [Fact]
    public void Search_NoExperimentForDataset_ExitsTwoNamingTheFile()
    {
        var (code, _, error) = Run("search", "--dataset", "mnist", "--results", Path.Combine(_directory, "results"));

        Assert.Equal(2, code);
        Assert.Contains("no experiment for dataset 'mnist': experiments/mnist.json does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Search_InvalidExperiment_ExitsTwoNamingTheField()
    {
        var path = Path.Combine(_directory, "bad.json");
        File.WriteAllText(path, Tiny.Replace("\"population\": 2", "\"population\": 0", StringComparison.Ordinal));

        var (code, _, error) = Run("search", "--experiment", path, "--results", Path.Combine(_directory, "results"), "--repo", _directory);

        Assert.Equal(2, code);
        Assert.Contains($"{path}: population: must be at least 2", error, StringComparison.Ordinal);
    }

    /// <summary>The tiny experiment with two profiles, on <paramref name="dataset"/>.</summary>
    private string WithProfiles(string dataset = "fashion-mnist")
    {
        var path = Path.Combine(_directory, "profiled.json");
        File.WriteAllText(path, Tiny[..Tiny.LastIndexOf('}')].Replace("fashion-mnist", dataset, StringComparison.Ordinal)
            + ", \"profiles\": { \"ci\": { \"budget\": { \"candidates\": 2 } }, \"smoke\": { \"fidelity\": { \"epochs\": 1 } } } }");
        return path;
    }

    [Fact]
    public void Search_UnknownProfile_ExitsTwoListingTheFilesProfiles()
    {
        var path = WithProfiles();

        var (code, _, error) = Run("search", "--experiment", path, "--profile", "nightly", "--results", Path.Combine(_directory, "results"), "--repo", _directory);

        Assert.Equal(2, code);
        Assert.Contains($"{path}: no profile 'nightly'; the file's profiles are ci, smoke", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Search_ProfileDataAbsent_ExitsTwoWithPlacementInstructionsBeforeAnyWork()
    {
        var path = WithProfiles("cifar100");
        var data = Directory.CreateDirectory(Path.Combine(_directory, "data")).FullName;

        var (code, _, error) = Run("search", "--experiment", path, "--profile", "ci", "--data-dir", data, "--results", Path.Combine(_directory, "results"), "--repo", _directory);

        Assert.Equal(2, code);
        Assert.Contains($"cifar100: place cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (or the folder it extracts to, cifar-100-binary/) in {data}", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_directory, "results", "cli-ci-fairnad-s3")), "a run that cannot start must leave no run folder");
    }

    [Fact]
    public void Report_NoSuchRun_ExitsTwoNamingTheFolder()
    {
        var (code, _, error) = Run("report", "--run", "nope", "--results", _directory);

        Assert.Equal(2, code);
        Assert.Contains("is not a run folder", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Reproduce_NoSuchRun_ExitsTwo()
    {
        var (code, _, error) = Run("reproduce", "--run", "nope", "--results", _directory);

        Assert.Equal(2, code);
        Assert.Contains("no recorded run 'nope'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Search_LlmTimeoutNegative_ExitsTwoNamingTheOption()
    {
        var (code, _, error) = Run("search", "--llm-timeout", "-3");

        Assert.Equal(2, code);
        Assert.Equal("fairnad: --llm-timeout must be a number of seconds above 0 and at most 86400 (a day), not -3", error.Trim());
    }

    [Theory]
    [InlineData("-3")]
    [InlineData("0")]
    [InlineData("1e9")]
    public void Search_TimeoutOutOfRange_ExitsTwoNamingTheOption(string seconds)
    {
        var (code, _, error) = Run("search", "--timeout", seconds);

        Assert.Equal(2, code);
        Assert.Equal($"fairnad: --timeout must be a number of seconds above 0 and at most 604800 (a week), not {double.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture):G}", error.Trim());
    }

    [Theory]
    [InlineData("--llm-model,b,--llm,ollama:a", "fairnad: --llm ollama:a and --llm-model b name different models; give the model once")]
    [InlineData("--llm-num-ctx,100", "fairnad: --llm-num-ctx must be a number of tokens from 512 to 1048576, not 100")]
    public void Search_LlmModelOrNumCtxInvalid_ExitsTwoNamingTheOption(string arguments, string expected)
    {
        var (code, _, error) = Run(["search", .. arguments.Split(',')]);

        Assert.Equal(2, code);
        Assert.Equal(expected, error.Trim());
    }

    [Fact]
    public void Search_LlmStallTimeoutNegative_ExitsTwoNamingTheOption()
    {
        var (code, _, error) = Run("search", "--llm-stall-timeout", "-3");

        Assert.Equal(2, code);
        Assert.Equal("fairnad: --llm-stall-timeout must be a number of seconds above 0 and at most 86400 (a day), not -3", error.Trim());
    }

    [Fact]
    public void Search_LlmStallTimeoutNotANumber_ExitsTwoNamingTheOption()
    {
        var (code, _, error) = Run("search", "--llm-stall-timeout", "soon");

        Assert.Equal(2, code);
        Assert.Contains("'soon' for option '--llm-stall-timeout'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Search_BadLlmOption_ExitsTwo()
    {
        var (code, _, error) = Run("search", "--llm", "sometimes");

        Assert.Equal(2, code);
        Assert.Contains("--llm must be live, replay, auto, off, scripted or ollama:<model>, not 'sometimes'", error, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Search_TinyExperiment_PlainLinesBestArchitecturesAndBranches()
    {
        Repository.Init(_directory);
        var path = Path.Combine(_directory, "cli.json");
        File.WriteAllText(path, Tiny);

        var (code, output, error) = Run("search", "--experiment", path, "--results", Path.Combine(_directory, "results"), "--repo", _directory);

        Assert.True(code == 0, output + error);
        Assert.Contains("[  4/4]", output, StringComparison.Ordinal);
        Assert.Contains("best architectures (validation accuracy):", output, StringComparison.Ordinal);
        Assert.Contains("run cli-fairnad-s3: 4 candidates", output, StringComparison.Ordinal);
        using var repository = new Repository(_directory);
        Assert.Equal(5, repository.Branches.Count(b => b.FriendlyName.StartsWith("fairnad/cli-fairnad-s3/", StringComparison.Ordinal)));
        Assert.True(File.Exists(Path.Combine(_directory, "results", "cli-fairnad-s3", "summary.md")));

        var clean = Run("lineage", "verify", "--run", "cli-fairnad-s3", "--repo", _directory, "--results", Path.Combine(_directory, "results"));
        Assert.True(clean.Code == 0, clean.Output + clean.Error);
        Assert.Contains("run cli-fairnad-s3: 4 candidates verified (commits, notes, the journal's hash chain, result documents)", clean.Output, StringComparison.Ordinal);

        var resultFile = Directory.GetFiles(Path.Combine(_directory, "results", "cli-fairnad-s3", "candidates"), "*.json").First(f => !f.EndsWith(".spec.json", StringComparison.Ordinal) && !f.EndsWith(".config.json", StringComparison.Ordinal));
        var result = EvaluationResult.Parse(File.ReadAllText(resultFile), resultFile);
        (result with { BestValidationAccuracy = 91.0 }).WriteAtomically(resultFile);
        var tampered = Run("lineage", "verify", "--run", "cli-fairnad-s3", "--repo", _directory, "--results", Path.Combine(_directory, "results"));
        Assert.Equal(1, tampered.Code);
        Assert.Contains($"candidate {result.CandidateId[..12]}", tampered.Output, StringComparison.Ordinal);
        Assert.Contains($"validation accuracy differs: journal {result.BestValidationAccuracy?.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}, candidates/{result.CandidateId}.json 91,", tampered.Output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Search_LlmServerLosesTheModelThenServesAnother_Exit75ThenExit2NamingBothDigestsThenAllowed()
    {
        const string changedDigest = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
        Repository.Init(_directory);
        var path = Path.Combine(_directory, "cli.json");
        File.WriteAllText(path, Tiny.Replace("\"name\": \"cli\"", "\"name\": \"cli-llm\"", StringComparison.Ordinal)
            .Replace("\"fairIdea\": 1, \"pareto\": 0, \"llm\": 0", "\"fairIdea\": 0, \"pareto\": 0, \"llm\": 1", StringComparison.Ordinal)
            .Replace("\"seeds\": [3],", "\"seeds\": [3], \"llm\": { \"mode\": \"auto\", \"model\": \"test-model\", \"maxAttempts\": 2 },", StringComparison.Ordinal));
        string[] Args(FairNad.Tests.Shared.ScriptedOllamaServer server, params string[] more) =>
            ["search", "--results", Path.Combine(_directory, "results"), "--repo", _directory, "--ollama-host", server.Uri.ToString(), .. more];

        // The model disappears from the server: 404 on every chat, not retried; three in a row stop the run, resumably.
        using (var gone = new FairNad.Tests.Shared.ScriptedOllamaServer(_ => "{}") { Faults = (p, call) => call > 0 ? FairNad.Tests.Shared.Fault.ModelNotFound("test-model") : null })
        {
            var (code, output, error) = Run(Args(gone, "--experiment", path));

            Assert.True(code == 75, output + error);
            Assert.Contains("fairnad: run cli-llm-fairnad-s3 stopped after 2 candidate(s): the LLM server failed 3 calls in a row, each after its retries; the last: Ollama at ", error, StringComparison.Ordinal);
            Assert.Contains("HTTP 404 Not Found: model 'test-model' not found; run `ollama pull test-model`", error, StringComparison.Ordinal);
            Assert.Contains("Continue with: fairnad search --resume cli-llm-fairnad-s3", error, StringComparison.Ordinal);
        }

        // Another model under the same name: refused before it answers anything, both digests named.
        using (var changed = new FairNad.Tests.Shared.ScriptedOllamaServer(_ => "{}") { ServedDigest = changedDigest })
        {
            var (code, output, error) = Run(Args(changed, "--resume", "cli-llm-fairnad-s3"));

            Assert.True(code == 2, output + error);
            Assert.Contains($"recorded with test-model:latest ({FairNad.Tests.Shared.ScriptedOllamaServer.Digest}), but {changed.Uri} now serves test-model:latest ({changedDigest})", error, StringComparison.Ordinal);
            Assert.Equal(0, changed.ChatCalls);

            var allowed = Run(Args(changed, "--resume", "cli-llm-fairnad-s3", "--llm-allow-model-change"));

            Assert.True(allowed.Code == 0, allowed.Output + allowed.Error);
            Assert.Contains("LLM model changed (allowed by --llm-allow-model-change)", allowed.Error, StringComparison.Ordinal);
            Assert.Matches(@"LLM mutate: \d+ call\(s\): \d+ live, \d+ replayed, [1-9]\d* failed;", allowed.Output);
        }
    }

    [Fact]
    public void Evaluate_ConfigFile_TrainsExactlyThatConfig()
    {
        var config = new TrainingConfig(Epochs: 1, BatchSize: 25, LearningRate: 0.02, TrainSubset: 100, ValidationSubset: 50, Augment: false, LatencyRepeats: 1, Seed: 9);
        var configPath = Path.Combine(_directory, "config.json");
        File.WriteAllText(configPath, config.ToJson());
        var result = Path.Combine(_directory, "r.json");

        var (code, output, error) = Run("evaluate", "resnet", "--params", "20000", "--config", configPath, "--quiet", "--out", result);

        Assert.True(code == 0, output + error);
        Assert.Equal(config, EvaluationResult.Parse(File.ReadAllText(result), result).Config);
    }
}
