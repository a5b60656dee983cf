namespace FairNad.Llm.Tests;

/// <summary>OLLAMA_HOST and --ollama-host read as Ollama's own client reads OLLAMA_HOST.</summary>
public sealed class OllamaHostTests
{
    [Theory]
    [InlineData("", "http://localhost:11434/")]
    [InlineData("127.0.0.1", "http://127.0.0.1:11434/")]
    [InlineData(":11434", "http://localhost:11434/")]
    [InlineData(":8080", "http://localhost:8080/")]
    [InlineData("0.0.0.0", "http://127.0.0.1:11434/")]
    [InlineData("0.0.0.0:12345", "http://127.0.0.1:12345/")]
    [InlineData("gpu-box", "http://gpu-box:11434/")]
    [InlineData("gpu-box:8080", "http://gpu-box:8080/")]
    [InlineData("http://gpu-box", "http://gpu-box/")]
    [InlineData("http://gpu-box:11434/", "http://gpu-box:11434/")]
    [InlineData("https://gpu-box", "https://gpu-box/")]
    [InlineData("https://gpu-box:8443", "https://gpu-box:8443/")]
    [InlineData("HTTPS://gpu-box", "https://gpu-box/")]
    [InlineData("https://proxy.example.org/ollama", "https://proxy.example.org/ollama/")]
    [InlineData("::1", "http://[::1]:11434/")]
    [InlineData("[::1]:8080", "http://[::1]:8080/")]
    [InlineData("[::]:11434", "http://[::1]:11434/")]
    [InlineData(" \"localhost:11434\" ", "http://localhost:11434/")]
    [InlineData("'10.0.0.5'", "http://10.0.0.5:11434/")]
    [InlineData("ollama.com", "https://ollama.com/")]
    public void ParseHost_OllamaForms_Url(string value, string expected)
    {
        Assert.Equal(expected, LlmSettings.ParseHost(value, "OLLAMA_HOST").ToString());
    }

    [Theory]
    [InlineData("localhost:abc", "the port 'abc' is not a number from 1 to 65535")]
    [InlineData("localhost:70000", "the port '70000' is not a number from 1 to 65535")]
    [InlineData("localhost:", "the port '' is not a number from 1 to 65535")]
    [InlineData("ftp://gpu-box", "the scheme must be http or https, not 'ftp'")]
    [InlineData("gpu box:11434", "'gpu box' is not a host name or IP address")]
    [InlineData("a:b:c", "'a:b:c' is not a host name or IP address")]
    public void ParseHost_Malformed_ErrorNamesTheSourceAndTheForms(string value, string reason)
    {
        var error = Assert.Throws<ArgumentException>(() => LlmSettings.ParseHost(value, "--ollama-host"));

        Assert.Equal($"--ollama-host '{value}' is not an Ollama address: {reason}; write [http://|https://]host[:port][/path], e.g. 127.0.0.1:11434 or https://ollama.example.org", error.Message);
    }

    [Fact]
    public void ResolveServer_OptionThenOllamaHostThenDefault()
    {
        var before = Environment.GetEnvironmentVariable("OLLAMA_HOST");
        try
        {
            Environment.SetEnvironmentVariable("OLLAMA_HOST", "0.0.0.0");
            Assert.Equal("http://127.0.0.1:11434/", LlmSettings.ResolveServer(null).ToString());
            Assert.Equal("http://gpu-box:11434/", LlmSettings.ResolveServer("gpu-box").ToString());

            Environment.SetEnvironmentVariable("OLLAMA_HOST", "gpu-box:port");
            Assert.StartsWith("OLLAMA_HOST 'gpu-box:port' is not an Ollama address: the port 'port'", Assert.Throws<ArgumentException>(() => LlmSettings.ResolveServer(null)).Message);

            Environment.SetEnvironmentVariable("OLLAMA_HOST", null);
            Assert.Equal("http://localhost:11434/", LlmSettings.ResolveServer(null).ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable("OLLAMA_HOST", before);
        }
    }
}
