"""The registry of the 100 days: the single source of truth for the CLI, the README table and tests.

Each `Day` knows its topic, ARENA section, section URL and the paths of its script, daily note,
blog post and published figures; its status is derived from which of those files exist. This module
imports nothing heavy (no torch) so that `arena list` starts instantly.
"""

from dataclasses import dataclass
from pathlib import Path

from arena_core import REPO_ROOT

# ruff: noqa: E501
SECTION_URLS = {
    "0.0 Prerequisites": "https://learn.arena.education/chapter0_fundamentals/00_prereqs/",
    "0.1 Ray Tracing": "https://learn.arena.education/chapter0_fundamentals/01_ray_tracing/",
    "0.2 CNNs & ResNets": "https://learn.arena.education/chapter0_fundamentals/02_cnns/",
    "0.3 Optimization": "https://learn.arena.education/chapter0_fundamentals/03_optimization/",
    "0.4 Backpropagation": "https://learn.arena.education/chapter0_fundamentals/04_backprop/",
    "0.5 VAEs & GANs": "https://learn.arena.education/chapter0_fundamentals/05_vaes_gans/",
    "1.1 Transformers": "https://learn.arena.education/chapter1_transformer_interp/01_transformers/",
    "1.2 Intro to Mech Interp": "https://learn.arena.education/chapter1_transformer_interp/02_intro_mech_interp/",
    "1.3.1 Linear Probes": "https://learn.arena.education/chapter1_transformer_interp/11_probing/",
    "1.3.2 Function Vectors": "https://learn.arena.education/chapter1_transformer_interp/12_function_vectors/",
    "1.3.3 SAEs": "https://learn.arena.education/chapter1_transformer_interp/13_saes/",
    "1.3.4 Activation Oracles": "https://learn.arena.education/chapter1_transformer_interp/14_activation_oracles/",
    "1.4.1 IOI": "https://learn.arena.education/chapter1_transformer_interp/21_ioi/",
    "1.4.2 SAE Circuits": "https://learn.arena.education/chapter1_transformer_interp/22_sae_circuits/",
    "1.5.1 Brackets": "https://learn.arena.education/chapter1_transformer_interp/31_brackets/",
    "1.5.2 Grokking": "https://learn.arena.education/chapter1_transformer_interp/32_grokking/",
    "1.5.3 OthelloGPT": "https://learn.arena.education/chapter1_transformer_interp/33_othellogpt/",
    "1.5.4 Superposition": "https://learn.arena.education/chapter1_transformer_interp/34_superposition/",
    "2.1 Intro to RL": "https://learn.arena.education/chapter2_rl/01_intro_rl/",
    "2.2 DQN & VPG": "https://learn.arena.education/chapter2_rl/02_dqn_vpg/",
    "2.3 PPO": "https://learn.arena.education/chapter2_rl/03_ppo/",
    "2.4 RLHF": "https://learn.arena.education/chapter2_rl/04_rlhf/",
    "3.1 Intro to Evals": "https://learn.arena.education/chapter3_llm_evals/01_intro_evals/",
    "3.2 Dataset Generation": "https://learn.arena.education/chapter3_llm_evals/02_dataset_gen/",
    "3.3 Running Evals": "https://learn.arena.education/chapter3_llm_evals/03_running_evals/",
    "3.4 LLM Agents": "https://learn.arena.education/chapter3_llm_evals/04_llm_agents/",
    "4.1 Emergent Misalignment": "https://learn.arena.education/chapter4_alignment_science/1_emergent_misalignment/",
    "4.2 Science of Misalignment": "https://learn.arena.education/chapter4_alignment_science/2_science_misalignment/",
    "4.3 Reasoning Models": "https://learn.arena.education/chapter4_alignment_science/3_reasoning_models/",
    "4.4 Persona Vectors": "https://learn.arena.education/chapter4_alignment_science/4_persona_vectors/",
    "4.5 Investigator Agents": "https://learn.arena.education/chapter4_alignment_science/5_investigator_agents/",
}

# fmt: off
# (day, topic, ARENA section, script path; "" when the day is prose only)
_TABLE = [
    (1, "PyTorch Tensors & Basics", "0.0 Prerequisites", "00_prerequisites/day_001_tensors.py"),
    (2, "einops & einsum", "0.0 Prerequisites", "00_prerequisites/day_002_einops.py"),
    (3, "Tensor Manipulation Patterns", "0.0 Prerequisites", "00_prerequisites/day_003_patterns.py"),
    (4, "Linear Algebra in Code", "0.0 Prerequisites", "00_prerequisites/day_004_linalg.py"),
    (5, "Review + Speed Drills", "0.0 Prerequisites", "00_prerequisites/day_005_review.py"),
    (6, "Ray Tracing Intro", "0.1 Ray Tracing", "01_ray_tracing/day_006_intro.py"),
    (7, "Batched Rays", "0.1 Ray Tracing", "01_ray_tracing/day_007_batched.py"),
    (8, "Triangle Meshes", "0.1 Ray Tracing", "01_ray_tracing/day_008_meshes.py"),
    (9, "Full Render Pipeline", "0.1 Ray Tracing", "01_ray_tracing/day_009_render.py"),
    (10, "Performance Optimization", "0.1 Ray Tracing", "01_ray_tracing/day_010_perf.py"),
    (11, "Conv Operations from Scratch", "0.2 CNNs & ResNets", "02_cnns_resnets/day_011_conv.py"),
    (12, "MNIST Classifier", "0.2 CNNs & ResNets", "02_cnns_resnets/day_012_mnist.py"),
    (13, "ResNets — Theory & Architecture", "0.2 CNNs & ResNets", "02_cnns_resnets/day_013_resnet_arch.py"),
    (14, "ResNet Training on CIFAR-10", "0.2 CNNs & ResNets", "02_cnns_resnets/day_014_cifar.py"),
    (15, "SGD from Scratch", "0.3 Optimization", "03_optimization/day_015_sgd.py"),
    (16, "Adam Optimizer", "0.3 Optimization", "03_optimization/day_016_adam.py"),
    (17, "Weights & Biases Setup", "0.3 Optimization", "03_optimization/day_017_wandb.py"),
    (18, "Hyperparameter Search", "0.3 Optimization", "03_optimization/day_018_sweeps.py"),
    (19, "Loss Landscape Visualization", "0.3 Optimization", "03_optimization/day_019_landscapes.py"),
    (20, "Autograd Theory + Value class", "0.4 Backpropagation", "04_backprop/day_020_value.py"),
    (21, "Chain Rule in Code", "0.4 Backpropagation", "04_backprop/day_021_chain_rule.py"),
    (22, "Custom Backward Passes", "0.4 Backpropagation", "04_backprop/day_022_custom_backward.py"),
    (23, "Train MLP with Custom Autograd", "0.4 Backpropagation", "04_backprop/day_023_mlp_autograd.py"),
    (24, "Gradient Checking", "0.4 Backpropagation", "04_backprop/day_024_grad_check.py"),
    (25, "Autoencoders + VAE Theory", "0.5 VAEs & GANs", "05_vaes_gans/day_025_ae.py"),
    (26, "VAE Training + ELBO", "0.5 VAEs & GANs", "05_vaes_gans/day_026_vae.py"),
    (27, "GANs — DCGAN Implementation", "0.5 VAEs & GANs", "05_vaes_gans/day_027_gan.py"),
    (28, "Module 0 Capstone + Review", "—", "05_vaes_gans/day_028_capstone.py"),
    (29, "Attention Mechanism", "1.1 Transformers", "06_transformers/day_029_attention.py"),
    (30, "Transformer Blocks", "1.1 Transformers", "06_transformers/day_030_blocks.py"),
    (31, "Full GPT-2 Architecture", "1.1 Transformers", "06_transformers/day_031_gpt2.py"),
    (32, "Load Pretrained Weights", "1.1 Transformers", "06_transformers/day_032_pretrained.py"),
    (33, "Sampling Strategies", "1.1 Transformers", "06_transformers/day_033_sampling.py"),
    (34, "TransformerLens Setup & Activations", "1.2 Intro to Mech Interp", "07_mech_interp/day_034_tl_setup.py"),
    (35, "Logit Lens", "1.2 Intro to Mech Interp", "07_mech_interp/day_035_logit_lens.py"),
    (36, "Hooks Deep Dive", "1.2 Intro to Mech Interp", "07_mech_interp/day_036_hooks.py"),
    (37, "Attention Head Analysis + Induction Heads", "1.2 Intro to Mech Interp", "07_mech_interp/day_037_induction.py"),
    (38, "MLP Neuron Analysis", "1.2 Intro to Mech Interp", "07_mech_interp/day_038_neurons.py"),
    (39, "Probing Theory", "1.3.1 Linear Probes", "07_mech_interp/day_039_probes_theory.py"),
    (40, "Probe Implementation on Coup", "1.3.1 Linear Probes", "07_mech_interp/day_040_coup_probes.py"),
    (41, "Probe Analysis + Failure Modes", "1.3.1 Linear Probes", "07_mech_interp/day_041_probe_analysis.py"),
    (42, "Activation Patching", "1.3.2 Function Vectors", "07_mech_interp/day_042_act_patch.py"),
    (43, "Function Vectors", "1.3.2 Function Vectors", "07_mech_interp/day_043_func_vectors.py"),
    (44, "nnsight & Activation Steering", "1.3.2 Function Vectors", "07_mech_interp/day_044_steering.py"),
    (45, "SAE Theory", "1.3.3 SAEs", "07_mech_interp/day_045_sae_theory.py"),
    (46, "SAE Training on GPT-2", "1.3.3 SAEs", "07_mech_interp/day_046_sae_train.py"),
    (47, "Feature Interpretation", "1.3.3 SAEs", "07_mech_interp/day_047_features.py"),
    (48, "SAE as Cognitive Monitor", "1.3.3 SAEs", "07_mech_interp/day_048_monitor.py"),
    (49, "Activation Oracles Intro", "1.3.4 Activation Oracles", "07_mech_interp/day_049_oracles_intro.py"),
    (50, "Hidden Knowledge Probing", "1.3.4 Activation Oracles", "07_mech_interp/day_050_hidden_knowledge.py"),
    (51, "Oracle Analysis + Visualization", "1.3.4 Activation Oracles", "07_mech_interp/day_051_oracle_analysis.py"),
    (52, "IOI Task Setup", "1.4.1 IOI", "07_mech_interp/day_052_ioi_setup.py"),
    (53, "Path Patching", "1.4.1 IOI", "07_mech_interp/day_053_path_patching.py"),
    (54, "Circuit Discovery", "1.4.1 IOI", "07_mech_interp/day_054_circuit_map.py"),
    (55, "Circuit Validation via Ablation", "1.4.1 IOI", "07_mech_interp/day_055_ablation.py"),
    (56, "SAE Circuit Theory", "1.4.2 SAE Circuits", "07_mech_interp/day_056_sae_circuits.py"),
    (57, "Feature Tracing Through Layers", "1.4.2 SAE Circuits", "07_mech_interp/day_057_feature_flow.py"),
    (58, "SAE + IOI Combined Analysis", "1.4.2 SAE Circuits", "07_mech_interp/day_058_sae_ioi.py"),
    (59, "Balanced Bracket Classifier", "1.5.1 Brackets", "07_mech_interp/day_059_brackets.py"),
    (60, "Bracket Circuit Reverse-Engineering", "1.5.1 Brackets", "07_mech_interp/day_060_brackets_circuit.py"),
    (61, "Grokking — Train + Observe", "1.5.2 Grokking", "07_mech_interp/day_061_grokking.py"),
    (62, "Fourier Circuits in Grokking", "1.5.2 Grokking", "07_mech_interp/day_062_fourier.py"),
    (63, "OthelloGPT World Model Analysis", "1.5.3 OthelloGPT", "07_mech_interp/day_063_othello.py"),
    (64, "Superposition — Toy Model Replication", "1.5.4 Superposition", "07_mech_interp/day_064_superposition.py"),
    (65, "SAE on Superposition + Module 1 Review", "1.5.4 Superposition", "07_mech_interp/day_065_sae_superposition.py"),
    (66, "MDPs, Bandits, Value Functions", "2.1 Intro to RL", "08_rl/day_066_bandits.py"),
    (67, "Q-Learning & Tabular RL", "2.1 Intro to RL", "08_rl/day_067_qlearning.py"),
    (68, "Policy & Value Iteration", "2.1 Intro to RL", "08_rl/day_068_policy_iter.py"),
    (69, "Deep Q-Network (DQN)", "2.2 DQN & VPG", "08_rl/day_069_dqn.py"),
    (70, "Vanilla Policy Gradient", "2.2 DQN & VPG", "08_rl/day_070_vpg.py"),
    (71, "Actor-Critic (A2C)", "2.2 DQN & VPG", "08_rl/day_071_a2c.py"),
    (72, "PPO Theory + Clipped Objective", "2.3 PPO", "08_rl/day_072_ppo_theory.py"),
    (73, "PPO Implementation", "2.3 PPO", "08_rl/day_073_ppo_impl.py"),
    (74, "PPO Debugging & Analysis", "2.3 PPO", "08_rl/day_074_ppo_debug.py"),
    (75, "RLHF Theory + Reward Model", "2.4 RLHF", "08_rl/day_075_reward_model.py"),
    (76, "Full RLHF Pipeline", "2.4 RLHF", "08_rl/day_076_rlhf_pipeline.py"),
    (77, "Threat Models", "3.1 Intro to Evals", "09_evals/day_077_threat_model.md"),
    (78, "Eval Specification Design", "3.1 Intro to Evals", "09_evals/day_078_eval_spec.md"),
    (79, "Eval Pitfalls + Benchmark Gaming", "3.1 Intro to Evals", "09_evals/day_079_pitfalls.py"),
    (80, "LLM-Generated Eval Questions", "3.2 Dataset Generation", "09_evals/day_080_gen_dataset.py"),
    (81, "Dataset Validation Pipeline", "3.2 Dataset Generation", "09_evals/day_081_validate.py"),
    (82, "Inspect Setup + First Eval", "3.3 Running Evals", "09_evals/day_082_inspect_setup.py"),
    (83, "Custom Eval in Inspect", "3.3 Running Evals", "09_evals/day_083_custom_eval.py"),
    (84, "Agent Scaffolding (Tool Use)", "3.4 LLM Agents", "09_evals/day_084_agent.py"),
    (85, "Wikipedia Racing Agent", "3.4 LLM Agents", "09_evals/day_085_wiki_race.py"),
    (86, "Agent Eval Suite", "3.4 LLM Agents", "09_evals/day_086_agent_eval.py"),
    (87, "Emergent Misalignment — Study", "4.1 Emergent Misalignment", "10_alignment/day_087_em_study.py"),
    (88, "Misaligned Model Analysis", "4.1 Emergent Misalignment", "10_alignment/day_088_em_analysis.py"),
    (89, "Mitigation Experiments", "4.1 Emergent Misalignment", "10_alignment/day_089_mitigation.py"),
    (90, "Black-Box Investigation Case Study 1", "4.2 Science of Misalignment", "10_alignment/day_090_blackbox_1.py"),
    (91, "Black-Box Investigation Case Study 2", "4.2 Science of Misalignment", "10_alignment/day_091_blackbox_2.py"),
    (92, "Chain-of-Thought Faithfulness", "4.3 Reasoning Models", "10_alignment/day_092_cot_faith.py"),
    (93, "Reasoning Model Interpretability", "4.3 Reasoning Models", "10_alignment/day_093_reasoning_interp.py"),
    (94, "Persona Vector Extraction", "4.4 Persona Vectors", "10_alignment/day_094_persona.py"),
    (95, "Psychological Consistency Probing", "4.4 Persona Vectors", "10_alignment/day_095_psych_probe.py"),
    (96, "Investigator Agent Setup", "4.5 Investigator Agents", "10_alignment/day_096_inv_agent.py"),
    (97, "Automated Investigation Experiments", "4.5 Investigator Agents", "10_alignment/day_097_inv_experiments.py"),
    (98, "Investigator Agent Evaluation", "4.5 Investigator Agents", "10_alignment/day_098_inv_eval.py"),
    (99, "Full Curriculum Review + Research Gaps", "—", ""),
    (100, "Capstone: Research Proposal", "—", ""),
]
# fmt: on

#: ARENA chapter of each script folder; days 99-100 (prose only) belong to no chapter.
FOLDER_CHAPTER = {
    "00_prerequisites": 0,
    "01_ray_tracing": 0,
    "02_cnns_resnets": 0,
    "03_optimization": 0,
    "04_backprop": 0,
    "05_vaes_gans": 0,
    "06_transformers": 1,
    "07_mech_interp": 1,
    "08_rl": 2,
    "09_evals": 3,
    "10_alignment": 4,
}
CHAPTER_NAMES = {
    0: "Fundamentals",
    1: "Transformers & interpretability",
    2: "Reinforcement learning",
    3: "LLM evals",
    4: "Alignment science",
}


@dataclass(frozen=True)
class Day:
    number: int
    topic: str
    section: str  # ARENA section, e.g. "0.2 CNNs & ResNets"; "—" for review days
    code: str  # script path relative to the repo root; "" for prose-only days

    @property
    def tag(self) -> str:
        return f"day_{self.number:03d}"

    @property
    def url(self) -> str:
        return SECTION_URLS.get(self.section, "")

    @property
    def chapter(self) -> int | None:
        return FOLDER_CHAPTER.get(self.code.split("/")[0]) if self.code else None

    @property
    def script(self) -> Path | None:
        return REPO_ROOT / self.code if self.code else None

    @property
    def is_runnable(self) -> bool:
        return self.code.endswith(".py")

    @property
    def note(self) -> Path:
        return REPO_ROOT / "daily_notes" / f"{self.tag}.md"

    @property
    def blog(self) -> Path:
        return REPO_ROOT / "blog_posts" / f"{self.tag}.md"

    @property
    def figures_dir(self) -> Path:
        return REPO_ROOT / "blog_posts" / "figures" / self.tag

    def load_module(self):
        """Import the day's script as a module (without running it) and return it.

        Script folders start with digits, so they are not packages: the script is loaded by path,
        as `arena run`, the smoke tests and the module reviews do.
        """
        import importlib.util

        if not (self.is_runnable and self.script.exists()):
            raise FileNotFoundError(f"day {self.number} has no script at {self.code or '(none)'}")
        spec = importlib.util.spec_from_file_location(self.tag, self.script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def parts(self) -> dict[str, bool]:
        """Which of the day's pieces exist: code (when the day has code), note, blog, figures."""
        found = {}
        if self.code:
            found["code"] = self.script.exists()
        found["note"] = self.note.exists()
        found["blog"] = self.blog.exists()
        found["figures"] = self.figures_dir.is_dir() and any(self.figures_dir.glob("*.png"))
        return found

    @property
    def status(self) -> str:
        """`complete` (code + note + blog), `started` (some of them) or `todo`."""
        parts = self.parts()
        required = [v for k, v in parts.items() if k != "figures"]
        if all(required):
            return "complete"
        if any(parts.values()):
            return "started"
        return "todo"


DAYS: tuple[Day, ...] = tuple(Day(*row) for row in _TABLE)
_BY_NUMBER = {d.number: d for d in DAYS}


class UnknownDayError(ValueError):
    """A day number outside 1..100, or not a number at all."""


def parse_day(text: str | int) -> int:
    """Parse a day given as `7`, `"07"` or `"007"`; raise UnknownDayError otherwise."""
    try:
        number = int(str(text).strip())
    except ValueError:
        raise UnknownDayError(f"{text!r} is not a day number (expected 1..100)") from None
    if number not in _BY_NUMBER:
        raise UnknownDayError(f"there is no day {number}: days run from 1 to {len(DAYS)}")
    return number


def get_day(number: int | str) -> Day:
    return _BY_NUMBER[parse_day(number)]


def days_in_chapter(chapter: int | None) -> list[Day]:
    return [d for d in DAYS if chapter is None or d.chapter == chapter]


README_START = "<!-- days-table:start (generated by `arena readme`; do not edit) -->"
README_END = "<!-- days-table:end -->"


def readme_table() -> str:
    """The README's progress badge and 100-day table, generated from this registry."""
    complete = sum(d.status == "complete" for d in DAYS)
    badge = (
        f"![days complete](https://img.shields.io/badge/days%20complete-{complete}%2F{len(DAYS)}"
        "-blue)"
    )
    lines = [
        badge,
        "",
        f"**{complete} of {len(DAYS)} days complete** (script, daily note and blog post present).",
        "",
        "| Day | Topic | ARENA section | Script | Note | Blog | Status |",
        "|---:|---|---|---|---|---|---|",
    ]
    for d in DAYS:
        parts = d.parts()
        section = f"[{d.section}]({d.url})" if d.url else d.section
        script = (
            f"[`{Path(d.code).name}`]({d.code})"
            if d.code and parts["code"]
            else (f"`{Path(d.code).name}`" if d.code else "—")
        )
        note = f"[note](daily_notes/{d.tag}.md)" if parts["note"] else "—"
        blog = f"[post](blog_posts/{d.tag}.md)" if parts["blog"] else "—"
        mark = {"complete": "✅ complete", "started": "🚧 started", "todo": "todo"}[d.status]
        lines.append(
            f"| {d.number} | {d.topic} | {section} | {script} | {note} | {blog} | {mark} |"
        )
    return "\n".join(lines)


def render_readme(text: str) -> str:
    """Return README text with the generated block between the markers replaced."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError("README.md lacks the days-table markers")
    return text[: start + len(README_START)] + "\n" + readme_table() + "\n" + text[end:]
