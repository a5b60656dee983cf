using FairNad.Build.Engine;

internal sealed partial class Build
{
    [Parameter("LLM mode: off, auto (replay recorded exchanges, ask Ollama for new ones), live or replay; or ollama:<model>; default the experiment's. Extract: default auto.")]
    [SearchOption]
    readonly string? Llm;

    [Parameter("Ollama server URL (default: OLLAMA_HOST, else http://localhost:11434).")]
    [SearchOption]
    readonly string? OllamaHost;

    Target Extract => _ => _
        .Description("Extracts an attribute tree from knowledge/references with the LLM into knowledge/extracted/<model>/ (every exchange recorded; --llm replay needs no network).")
        .DependsOn(Restore)
        .Executes(() => Fairnad(["knowledge", "extract", "--llm", Llm ?? "auto", "--references", RootDirectory / "knowledge" / "references", "--out", RootDirectory / "knowledge" / "extracted",
            .. OllamaHost is null ? Array.Empty<string>() : ["--ollama-host", OllamaHost]]));
}
