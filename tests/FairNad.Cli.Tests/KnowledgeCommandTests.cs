using FairNad.Tests.Shared;
namespace FairNad.Cli.Tests;

using static Cli;

public sealed class KnowledgeCommandTests
{
    [Fact]
    public void Stats_CuratedTree_EveryCategoryListed()
    {
        var (code, output, _) = Run("knowledge", "stats");

        Assert.Equal(0, code);
        Assert.Contains("network.head-regularisation", output);
        Assert.Contains("realised by the operator library", output);
    }

    [Fact]
    public void Validate_CuratedTree_Valid()
    {
        var (code, output, _) = Run("knowledge", "validate");

        Assert.Equal(0, code);
        Assert.StartsWith("valid: ", output);
    }

    [Fact]
    public void Validate_TreeWithDuplicateAndCrossCategoryNames_WarnsAndStaysValid()
    {
        var edited = KnowledgeTrees.WithRepeatedAndCrossCategoryNames();
        var first = FairNad.Knowledge.AttributeTree.Default().Granularities[0].Categories[0].Attributes[0];
        var file = Path.Combine(Directory.CreateTempSubdirectory("fairnad-cli-validate-").FullName, "tree.json");
        try
        {
            File.WriteAllText(file, edited.Write());

            var (code, output, _) = Run("knowledge", "validate", "--tree", file);

            Assert.Equal(0, code);
            Assert.Contains("warning: attribute name 'Isotropic stack' is in 2 main categories: network.depth-width.isotropic, network.hierarchy.isotropic\n", output.ReplaceLineEndings("\n"));
            Assert.Contains($"warning: attribute name '{first.Name}' is used 2 times in operator.feature-extraction: {first.Id}, operator.feature-extraction.copy\n", output.ReplaceLineEndings("\n"));
            Assert.Contains("valid: 41 attributes", output);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
        }
    }

    [Fact]
    public void Extract_LlmOffOrNothingRecorded_StopsWithNonZeroExit()
    {
        var directory = Directory.CreateTempSubdirectory("fairnad-cli-extract-").FullName;
        try
        {
            var off = Run("knowledge", "extract", "--llm", "off", "--out", directory);
            var replay = Run("knowledge", "extract", "--llm", "replay", "--out", directory);

            Assert.Equal(2, off.Code);
            Assert.Contains("the LLM is off", off.Error);
            Assert.Equal(2, replay.Code);
            Assert.Contains("no recorded transcripts", replay.Error);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("model", "HTTP 404 Not Found: model 'test-model' not found; run `ollama pull test-model`")]
    [InlineData("html", "HTTP 200 answered with text/html, not JSON: <!DOCTYPE html>")]
    public void Extract_ServerFailsDuringChat_OneLineErrorExit2(string failure, string expected)
    {
        var directory = Directory.CreateTempSubdirectory("fairnad-cli-extract-").FullName;
        try
        {
            var references = Directory.CreateDirectory(Path.Combine(directory, "references")).FullName;
            File.WriteAllText(Path.Combine(references, "resnet.md"), "# ResNet\n\nResidual connections ease the training of deep networks.\n");
            using var server = new FairNad.Tests.Shared.ScriptedOllamaServer(_ => "{}")
            {
                Faults = (path, call) => call == 0 ? null : failure == "model" ? FairNad.Tests.Shared.Fault.ModelNotFound("test-model") : FairNad.Tests.Shared.Fault.Html,
            };

            var (code, output, error) = Run("knowledge", "extract", "--llm", "ollama:test-model", "--ollama-host", server.Uri.ToString(),
                "--references", references, "--out", Path.Combine(directory, "out"));

            Assert.Equal(2, code);
            var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"fairnad: Ollama at {server.Uri} failed on POST /api/chat for model test-model: ", line);
            Assert.Contains(expected, line);
            Assert.Equal(string.Empty, output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Extract_ReplayWithLlmModel_ReadsThatModelsFolderAndNeedsNoServer()
    {
        var directory = Directory.CreateTempSubdirectory("fairnad-cli-extract-").FullName;
        try
        {
            var (code, _, error) = Run("knowledge", "extract", "--llm", "replay", "--llm-model", "llama3.1:8b", "--ollama-host", "127.0.0.1:9", "--out", directory);

            Assert.Equal(2, code);
            Assert.Contains($"no recorded transcripts in {Path.Combine(directory, "llama3.1-8b", "transcripts")}", error, StringComparison.Ordinal);
            Assert.DoesNotContain("cannot reach", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Extract_LlmTimeoutNotPositive_ExitsTwoNamingTheOption()
    {
        var (code, _, error) = Run("knowledge", "extract", "--llm", "live", "--llm-timeout", "0", "--out", Path.Combine(Path.GetTempPath(), "fairnad-never-written"));

        Assert.Equal(2, code);
        Assert.Equal("fairnad: --llm-timeout must be a number of seconds above 0 and at most 86400 (a day), not 0", error.Trim());
    }

    [Fact]
    public void Extract_LlmStallTimeoutNotPositive_ExitsTwoNamingTheOption()
    {
        var (code, _, error) = Run("knowledge", "extract", "--llm", "live", "--llm-stall-timeout", "0", "--out", Path.Combine(Path.GetTempPath(), "fairnad-never-written"));

        Assert.Equal(2, code);
        Assert.Equal("fairnad: --llm-stall-timeout must be a number of seconds above 0 and at most 86400 (a day), not 0", error.Trim());
    }

    [Fact]
    public void Extract_LlmStallTimeoutLongerThanLlmTimeout_ExitsTwoNamingBoth()
    {
        var (code, _, error) = Run("knowledge", "extract", "--llm", "live", "--llm-timeout", "100", "--llm-stall-timeout", "200", "--out", Path.Combine(Path.GetTempPath(), "fairnad-never-written"));

        Assert.Equal(2, code);
        Assert.StartsWith("fairnad: --llm-stall-timeout (200 s) must not exceed the request timeout (100 s, from --llm-timeout): ", error.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void Extract_OllamaHostMalformed_ExitsTwoNamingTheOption()
    {
        var (code, _, error) = Run("knowledge", "extract", "--llm", "live", "--ollama-host", "localhost:abc", "--out", Path.Combine(Path.GetTempPath(), "fairnad-never-written"));

        Assert.Equal(2, code);
        Assert.StartsWith("fairnad: --ollama-host 'localhost:abc' is not an Ollama address: the port 'abc' is not a number from 1 to 65535; write [http://|https://]host[:port]", error.Trim());
    }
}
