//! Safety tiers (CONTRACT §6): rules over normalised text, each with an id and a
//! category. Tier 3: suicide, self-harm, abuse or danger. Tier 2: substances.
//! Tier 1: everything else, figures of speech and school topics included.
//!
//! Rules read the output of [`crate::normalize::for_safety`], where runs of three
//! letters are cut to one: doubled letters in patterns are written `l+`.

use regex_lite::Regex;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use crate::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Suicide,
    SelfHarm,
    Abuse,
    Danger,
    Substances,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Suicide => "suicide",
            Category::SelfHarm => "self_harm",
            Category::Abuse => "abuse",
            Category::Danger => "danger",
            Category::Substances => "substances",
        }
    }

    fn tier(self) -> u8 {
        match self {
            Category::Substances => 2,
            _ => 3,
        }
    }
}

/// A help line or service shown with an alert and in crisis replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

fn resource(name: &str, phone: Option<&str>, text: Option<&str>, url: &str) -> Resource {
    Resource {
        name: name.into(),
        phone: phone.map(Into::into),
        text: text.map(Into::into),
        url: Some(url.into()),
    }
}

/// US crisis resources (CONTRACT §6).
pub fn default_crisis_resources() -> Vec<Resource> {
    vec![
        resource(
            "988 Suicide & Crisis Lifeline",
            Some("988"),
            Some("Call or text 988"),
            "https://988lifeline.org",
        ),
        resource(
            "Crisis Text Line",
            None,
            Some("Text HOME to 741741"),
            "https://www.crisistextline.org",
        ),
        resource(
            "Emergency services",
            Some("911"),
            Some("Call 911 if you are in immediate danger"),
            "https://www.911.gov",
        ),
    ]
}

/// US substance-use help (CONTRACT §6).
pub fn default_substance_resources() -> Vec<Resource> {
    vec![resource(
        "SAMHSA National Helpline",
        Some("1-800-662-4357"),
        Some("Free, confidential, 24/7"),
        "https://www.samhsa.gov/find-help/national-helpline",
    )]
}

/// Resources as a few plain lines, for replies.
pub fn resources_text(resources: &[Resource]) -> String {
    resources
        .iter()
        .map(|r| {
            let mut line = format!("• {}", r.name);
            match (&r.phone, &r.text) {
                (Some(p), Some(t)) if !t.contains(p.as_str()) => {
                    line.push_str(&format!(": {p} ({t})"))
                }
                (_, Some(t)) => line.push_str(&format!(": {t}")),
                (Some(p), None) => line.push_str(&format!(": {p}")),
                (None, None) => {}
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a reply already names every resource (by phone number, else by text).
pub fn mentions_resources(reply: &str, resources: &[Resource]) -> bool {
    resources.iter().all(|r| {
        let key = r.phone.as_deref().or(r.text.as_deref()).unwrap_or(&r.name);
        reply.contains(key)
    })
}

/// The verdict for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub tier: u8,
    pub categories: Vec<Category>,
    pub rules: Vec<&'static str>,
}

struct Rule {
    id: &'static str,
    category: Category,
    pattern: Regex,
    /// A match is dropped when this matches the whole message (school topics, accidents…).
    unless: Option<Regex>,
    /// A match is dropped when a clear negation stands right before it.
    negatable: bool,
}

const SELF: &str = r"(?:my ?self|me ?self)";
const CLOSE: &str = r"(?:he|she|they|him|someone|somebody|a man|a guy|an adult|a grown ?up|my (?:dad|father|mom|mum|mother|step ?dad|step ?father|step ?mom|step ?mother|uncle|aunt|brother|sister|cousin|grandpa|grandma|grandfather|grandmother|teacher|coach|babysitter|boyfriend|girlfriend|parents?|mom'?s boyfriend|moms boyfriend|neighbou?r|tutor|pastor|priest))";
/// School, news and fiction contexts that make a mention academic or third-person.
const ACADEMIC: &str = r"\b(?:learn(?:ed|ing|t)? about|in (?:health|science|history|english|psych\w*) class|health class|essay|report (?:on|about)|project (?:on|about)|presentation|assignment|research(?:ing)?|documentary|prevention|awareness|statistics|the news|news about|article|novel|book|movie|film|tv show|series|character|story|poem|song|lyrics|game|squad|dare program|drug safety|safety (?:week|class|talk|lesson)|dangers of|effects of|why (?:do )?people)\b";

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |id, category, pattern: &str, unless: Option<&str>, negatable| Rule {
            id,
            category,
            pattern: Regex::new(&pattern.replace("{SELF}", SELF).replace("{CLOSE}", CLOSE)).unwrap_or_else(|e| panic!("rule {id}: {e}")),
            unless: unless.map(|u| Regex::new(&u.replace("{ACADEMIC}", ACADEMIC).replace("{SELF}", SELF).replace("{CLOSE}", CLOSE)).unwrap_or_else(|e| panic!("rule {id} unless: {e}"))),
            negatable,
        };
        use Category::*;
        vec![
            // ---- suicide: ideation, intent, plan, method, preparation, farewell
            r("suicide.kill_self", Suicide, r"\b(?:kil+|kil+ing|kil+ed|end|ending|take|taking|off|offing) ?{SELF}\b", None, true),
            r("suicide.end_life", Suicide, r"\b(?:end|ending|take|taking|took) (?:my|my own) (?:own )?life\b", None, true),
            r("suicide.want_die", Suicide, r"\b(?:want|wanted|wanting|wish|wishing|going|plan|planning|ready|deserve|rather|just want|would like|need|have) (?:to )?(?:die|be dead|not exist|stop existing|not be alive|not be here anymore|disappear forever|sleep forever|never wake up)\b", Some(r"\b(?:die (?:of|from) (?:laughing|embarrassment|boredom|cringe)|dying to)\b"), true),
            r("suicide.wish_dead", Suicide, r"\bwish (?:i|i would) (?:was|were|had|could) (?:be )?(?:dead|die|never been born|not born|not alive|disappear)", None, false),
            r("suicide.not_live", Suicide, r"\b(?:do not|does not|dont|no longer|not) (?:want|wish|feel like) (?:to )?(?:live|be alive|exist|be here anymore|be here any more|wake up|go on|keep going|keep living)\b", None, false),
            r("suicide.no_reason", Suicide, r"\b(?:no|nothing|not any|no more) (?:reason|point|purpose) (?:to|in|of|for) (?:live|living|life|going on|being alive|being here|me being here|existing|trying anymore)\b", None, false),
            r("suicide.worth_living", Suicide, r"\blife (?:is|is not|isn't) (?:not )?worth (?:living|it)\b|\bnot worth living\b", Some(r"\bis worth living\b.*\b(?:because|when)\b"), false),
            r("suicide.better_off", Suicide, r"\b(?:better off (?:dead|without me|if i (?:was|were) gone|if i (?:died|was not here))|(?:everyone|they|people|the world) would be (?:happier|better) (?:without me|if i (?:was|were) gone))", None, false),
            r("suicide.no_one_miss", Suicide, r"\b(?:no ?one|nobody) would (?:miss|care|notice) (?:me )?if i (?:died|was gone|were gone|disappeared|was dead|killed)", None, false),
            r("suicide.word", Suicide, r"\bsuicid(?:e|al|ality)\b|\bunalive\b|\bcommit (?:suicide|it)\b", Some(r"{ACADEMIC}|\bsuicide (?:squad|doors?|bomb\w*|run|mission|drills?|sprints?)\b"), true),
            r("suicide.method_overdose", Suicide, r"\b(?:took|take|taking|swallowed|swallow|going to take|overdos\w*) (?:a lot of|a bunch of|all (?:of )?(?:my|the|mom'?s|dad'?s|moms|dads)|too many|a whole (?:bottle|box|pack) of|the whole (?:bottle|box|pack) of|\d{2,} )(?:\w+ )?(?:pills|tablets|meds|medicine|medication|sleeping pills|painkillers|tylenol|advil)\b|\boverdos(?:e|ing|ed)\b|\bod (?:on|tonight)\b", Some(r"\b(?:accident\w*|by mistake|vitamins|candy|sugar|caffeine|coffee|the news|{ACADEMIC})"), false),
            r("suicide.method_hang", Suicide, r"\b(?:hang|hanging|hung) {SELF}|\bnoose\b|\b(?:rope|belt) (?:around|round) my neck", Some(r"{ACADEMIC}"), true),
            r("suicide.method_jump", Suicide, r"\b(?:want|going|plan\w*|thinking about|think about|ready|gonna|about) to jump (?:off|from|in front of) (?:a|the|my)? ?(?:bridge|roof|building|cliff|balcony|window|train|car|tower|parking)", None, true),
            r("suicide.method_wrist", Suicide, r"\bslit(?:ting)? my (?:wrists?|throat)|\bcut (?:my )?wrists?\b|\bblade (?:to|on|against) my (?:wrist|throat|arm)", None, true),
            r("suicide.method_weapon", Suicide, r"\b(?:gun|pistol|knife) (?:to|against) my (?:head|chest|throat)|\bshoot {SELF}|\bstab {SELF}|\bdrown {SELF}|\bjump in front of a (?:train|car|bus)", None, true),
            r("suicide.farewell", Suicide, r"\b(?:goodbye|good ?bye|bye) (?:forever|everyone|world|cruel world)\b|\bthis is (?:my )?(?:last|final) (?:goodbye|message|night|day|post)\b|\bby the time (?:you|anyone) (?:read|reads|see|sees) this\b|\b(?:wrote|writing|written|left) (?:a |my )?(?:suicide |goodbye |last )?note (?:for|to) (?:my|everyone|you)|\b(?:suicide|goodbye) note\b|\bwill not be (?:here|around|alive) (?:tomorrow|much longer|anymore|for long|by)|\bgiving away (?:all )?my (?:stuff|things|belongings|pets)\b", Some(r"\b(?:last day of (?:school|camp|summer)|vacation|trip|holiday|move|moving)\b"), false),
            r("suicide.cant_go_on", Suicide, r"\bcannot (?:go on|keep going|keep living|do this anymore|take (?:it|this) anymore|take it any more|live like this)\b|\bdone with (?:life|living|being alive|everything and everyone)\b|\bgive up on (?:life|living)\b|\bgo to sleep and (?:never|not) wake up\b|\bi (?:hate|hate my) (?:life|being alive) (?:so much )?(?:and|i) want (?:it|this) (?:to )?(?:end|over)", Some(r"\b(?:homework|math|test|exam|class|teacher|game|level|song|show|this weather|traffic|drama)\b"), false),
            r("suicide.others_at_risk", Suicide, r"\b(?:my|a) (?:friend|best friend|bff|sister|brother|mom|mum|dad|cousin|boyfriend|girlfriend|classmate)\w* (?:said|says|told me|keeps saying|texted|is|wants|is going|is planning|plans|tried|threatened)\b.{0,30}\b(?:kil+ (?:herself|himself|themselves|themself)|suicid\w*|end (?:her|his|their) life|(?:cut|cutting|hurt|hurting) (?:herself|himself|themselves))", None, false),
            // ---- self-harm
            r("self_harm.verb_self", SelfHarm, r"\b(?:cut|cuts|cutting|burn|burns|burning|burned|burnt|scratch|scratching|scratched|hurt|hurts|hurting|harm|harms|harming|hit|hitting|punch|punching|punish|punishing|starve|starving|starved|bruise|bruising|carve|carving|bite|biting) {SELF}\b", Some(r"\b(?:accident\w*|by mistake|on (?:the|a) (?:stove|oven|pan|iron|grill|fire|fence|nail)|cooking|baking|shaving|paper ?cut|while (?:cooking|cutting|making|playing|running|skating|climbing)|fell|tripped|ran into|sports?|soccer|football|practice|curling iron|hot glue|slipped)\b|\bhurt {SELF} (?:playing|at|during|in|on) "), true),
            r("self_harm.cutting", SelfHarm, r"\b(?:been|started|start|keep|kept|stop|stopped|quit|relapsed? (?:on|into)?|urge to|urges to|want to|need to|thinking about|going back to|clean from) (?:self ?harm\w*|cutting|cut again|hurting myself)\b", Some(r"\bcutting (?:class|school|hair|paper|carbs|corners|back|down|out|in|the|it|my hair|a|some|bread|cake|wood|grass|ties)\b"), true),
            r("self_harm.word", SelfHarm, r"\bself[ -]?(?:harm\w*|injur\w*|mutilat\w*)\b", Some(r"{ACADEMIC}"), true),
            r("self_harm.marks", SelfHarm, r"\b(?:cuts|scars|marks|burns|wounds|scratches) on my (?:arms?|wrists?|legs?|thighs?|stomach|hips?)\b.{0,40}\b(?:hide|hiding|cover|covering|did|made|from|myself|again|sleeves)\b|\bhide (?:my|the) (?:cuts|scars|marks)\b|\b(?:razor|blade|blades|sharpener) (?:to|on) my (?:skin|arm|leg|wrist|thigh)", None, false),
            r("self_harm.purging", SelfHarm, r"\bmake {SELF} (?:throw up|puke|vomit|sick)\b|\bstop eating (?:so|to|until|because)\b|\bnot (?:eaten|eating) (?:in|for) (?:days|a week|\d+ days)\b", Some(r"\b(?:stomach bug|flu|sick with|fasting|ramadan)\b"), true),
            // ---- abuse and danger from others
            r("abuse.hurt_by", Abuse, r"\b{CLOSE} (?:always |keeps |sometimes |still |just |really |again )?(?:hits|hit|hitting|beats|beat|beating|punches|punched|kicks|kicked|chokes|choked|choking|slaps|slapped|hurts|hurt|hurting|burns|burned|burnt|whips|whipped|strangles|strangled|throws things at|threw things at|locks|locked|starves|starved|rapes|raped|molests|molested|abuses|abused) me\b", Some(r"\b(?:pillow|by accident|accidentally|playing|in the game|tag|snowball|water balloon|dodge ?ball|tickle|my feelings|feelings)\b"), false),
            r("abuse.touched", Abuse, r"\b(?:touch|touches|touched|touching|rubs|rubbed|feels|felt) (?:me|my) (?:down there|there|private\w*|in my private\w*|under my (?:clothes|shirt|skirt|pants)|between my legs|where (?:he|she|they) should not|in a bad way|in a weird way|inappropriately)|\b{CLOSE} (?:touches|touched|touch|keeps touching|tried to touch) me\b|\bmade me (?:touch|take off|undress|get undressed|get naked|watch (?:porn|videos))|\b(?:said|says|told me) (?:it is|it'?s|its) (?:our|a) (?:little |special )?secret\b|\bsecret (?:game|touching)\b|\bbad touch\b", Some(r"\b(?:touch(?:ed|es)? my (?:heart|soul)|touched me (?:deeply|so much)|moving|keep in touch)\b"), false),
            r("abuse.being_abused", Abuse, r"\b(?:i am|i was|i got|i have been|been|being|getting|get) (?:sexually )?(?:abused|molested|raped|assaulted|beaten|beat up|groomed|trafficked)\b|\b(?:abuse|abuses|abusing|abusive) (?:me|at home)\b|\bmy (?:dad|father|mom|mum|mother|step ?dad|step ?mom|parents?|boyfriend|girlfriend) (?:is|are) abusive\b", Some(r"{ACADEMIC}|\bbeat (?:me )?(?:at|in) (?:chess|the game|a game|fortnite|minecraft|cards|mario|racing)\b|\bgot beat (?:at|in)\b"), false),
            r("abuse.grooming", Abuse, r"\b(?:asked|asks|asking|wants|wanted|told|made|make|pressur\w+) me (?:to )?(?:send|sending) (?:him |her |them )?(?:pics|pictures|photos|nudes|videos) of (?:me|my ?self|my body)|\b(?:asked|asks|wants|wanted) (?:me )?(?:for |to send )?(?:nudes|naked pictures|naked photos)\b|\b(?:an adult|a grown ?up|a man|a guy|he|she|someone) (?:online |from (?:the )?(?:game|internet|discord|roblox|snapchat) )?(?:told|asked) me (?:to|not to) (?:keep it (?:a )?secret|tell (?:my )?(?:parents|mom|dad|anyone)|meet (?:him|her|them) (?:alone|in person|somewhere))", None, false),
            r("danger.threat", Danger, r"\b{CLOSE} (?:said|says|told me|threatened|threatens|is going to|will|wants to|tried to|is trying to) (?:to )?(?:kil+|hurt|beat|stab|shoot|choke) (?:me|us|my (?:mom|mum|dad|brother|sister|family))\b", Some(r"\b(?:if i (?:lose|lost|beat|win) (?:at|the|this|in)|in the game|joking|lol|haha|my (?:homework|room|chores)|if i do not (?:clean|finish))\b"), false),
            r("danger.scared_home", Danger, r"\b(?:scared|afraid|terrified|too scared) (?:to go|of going) home\b|\b(?:scared|afraid|terrified) of my (?:dad|father|mom|mum|mother|step ?dad|step ?mom|uncle|parents?|boyfriend|girlfriend)\b(?:.{0,30}\b(?:hurt|hit|hits|yell|drunk|angry|does|will do))?|\bnot safe (?:at home|here|in my house|with (?:him|her|them|my))", None, false),
            r("danger.immediate", Danger, r"\b(?:someone|a man|a guy|a stranger|he|she|they|somebody) (?:is|are|keeps) (?:following|chasing|watching) (?:me|us)\b|\b(?:someone|a man|a guy|a stranger|somebody) (?:is |are )?(?:trying to get in|breaking in|in my (?:house|room|home)|outside my (?:door|window|house|room))|\b(?:he|she|they|someone|my \w+) (?:has|have|got|is holding|pulled) a (?:gun|knife|weapon)\b|\bi am (?:locked|trapped) in\b|\bcall (?:the )?(?:police|911) (?:please|now|for me)|\bhelp me (?:please )?(?:he|she|they) (?:is|are|will)\b", Some(r"\b(?:in the (?:game|movie|show|book|story)|fortnite|minecraft|roblox|zombie|dream|nightmare)\b"), false),
            // ---- substances (tier 2), by the user or around them
            r("substances.alcohol", Substances, r"\b(?:drunk|wasted|hammered|tipsy|hungover|hangover|blackout drunk|booze|liquor|alcohol\w*|vodka|whiske?y|tequila|rum|beers?|wine|white claws?|hard seltzers?|shots of|(?:got|get|getting) drunk|drinking (?:again|a lot|every|at|with|before)|(?:been|was|were|started|keep|kept|stop) drinking|drinks (?:a lot|every|too much))\b", Some(r"{ACADEMIC}|\b(?:root beer|ginger beer|butter ?beer|drunk (?:on|with) (?:power|love|happiness)|non[- ]?alcoholic|wine (?:gums|red|colou?r)|rubbing alcohol|alcohol (?:wipes?|swabs?|free|ink))\b|\b(?:hand sanitizer)\b"), false),
            r("substances.drugs_named", Substances, r"\b(?:weed|marijuana|cannabis|edibles|thc|cbd pens?|dabs|dabbing|cocaine|meth|crystal meth|heroin|fentanyl|fent|mdma|ecstasy|xanax|xans|xannies|percs|percocets?|oxy|oxys|oxycontin|oxycodone|lsd|ketamine|ket|shrooms|magic mushrooms|adderall|vyvanse|codeine|promethazine|nitrous|whippets|poppers|drugs|narcotics|opioids?|stoned|blazed|high af|tripping on|robotrip\w*|dxm)\b", Some(r"{ACADEMIC}|\b(?:drug ?store|drugstore|prescribed|my (?:doctor|prescription)|for my adhd|take my adderall (?:as|like) prescribed|drugs? (?:test|dog)|say no to drugs|war on drugs)\b"), false),
            r("substances.drugs_context", Substances, r"\b(?:smoke|smoking|smoked|hit|hits|rip|rips|took|take|taking|pop|popping|popped|snort|snorting|snorted|sniff|sniffing|huff|huffing|tried|try|trying|doing|did|sell|selling|sold|buy|buying|bought) (?:some |a |the |my |his |her )?(?:pot|coke|crack|molly|acid|mushrooms|lean|pills|tabs|bars|blunts?|joints?|bong|pen|dope|glue|paint|gas|markers)\b|\b(?:get|got|getting|was|am|feel|feeling|are) (?:high|stoned|baked|blazed|faded|cross ?faded|zooted)\b|\b(?:high|stoned) (?:on|off) \w+", Some(r"{ACADEMIC}|\b(?:high (?:school|score|five|fives|up|tide|jump)|baked (?:cookies|a cake|bread|goods)|(?:got|get|am|was) (?:high|higher) (?:score|grade|marks|up)|crack (?:a joke|the code|an egg|open)|smoke (?:alarm|detector|bomb|signal)|feel(?:ing)? high(?:-| )?spirited)\b"), false),
            r("substances.nicotine", Substances, r"\b(?:vape|vapes|vaping|vaped|vaper|juul|juuls|juuling|nicotine|nic|zyns?|cigarettes?|cigs?|ciggies|cigars?|tobacco|dip|chew|snus|puff ?bars?|elf ?bars?|geek ?bars?|smoking|smoke|smoked|smokes) ?\b", Some(r"{ACADEMIC}|\b(?:smoke (?:alarm|detector|bomb|signal|machine|from|coming|everywhere|in the)|smoked (?:salmon|meat|brisket|ham|cheese|turkey)|(?:fire|campfire|wildfire|bbq|grill|chimney)\b|smoking (?:hot|gun|fast)|holy smokes|smokes? (?:me|us) (?:at|in)|dip (?:my|the|into|in|chips|sauce)|chew (?:gum|my|on|food|toy)|nic(?:e|k|ole|holas?)\b)\b"), false),
            r("substances.misuse", Substances, r"\b(?:took|take|taking|steal|stole|stealing|pop|popping|swallowed) (?:some of )?(?:my |a )?(?:mom'?s|moms|dad'?s|dads|sister'?s|sisters|brother'?s|brothers|friend'?s|friends|grandma'?s|parents'?|someone'?s) (?:pills|meds|medicine|medication|prescription|adderall|xanax|painkillers|sleeping pills)\b|\b(?:cough syrup|benadryl|nyquil) to (?:get|feel) (?:high|messed up|something)", Some(r"{ACADEMIC}|\bto (?:my|the) (?:mom|dad|grandma|sister|brother)\b"), false),
        ]
    })
}

fn negation() -> &'static Regex {
    static NEG: OnceLock<Regex> = OnceLock::new();
    NEG.get_or_init(|| {
        Regex::new(r"\b(?:never|not|no way i would|would not|will not|never going to|not going to|no intention (?:of|to)|would never|will never)(?: ever| really| actually| even)?(?: going to| try to| want to)?(?: be)? ?$").unwrap()
    })
}

fn has_substance_use_marker() -> &'static Regex {
    static USE: OnceLock<Regex> = OnceLock::new();
    USE.get_or_init(|| {
        Regex::new(r"\b(?:i|we|my|me) (?:\w+ ){0,3}(?:smoke|smoked|smoking|drink|drank|drinking|took|take|taking|tried|try|vape|vaping|using|use|used|high|drunk|stoned|addicted|hooked|buy|bought|sell|selling)\b").unwrap()
    })
}

/// Classifies one message. Rules are compiled once per process.
pub fn classify(text: &str) -> Assessment {
    let norm = normalize::for_safety(text);
    let mut categories = Vec::new();
    let mut ids = Vec::new();
    for rule in rules() {
        let Some(m) = rule
            .pattern
            .find_iter(&norm)
            .find(|m| !(rule.negatable && negated(&norm[..m.start()])))
        else {
            continue;
        };
        let _ = m;
        if let Some(unless) = &rule.unless {
            // An academic or harmless context excuses a mention, but not first-person use of a substance.
            if unless.is_match(&norm)
                && !(rule.category == Category::Substances
                    && has_substance_use_marker().is_match(&norm)
                    && !academic_only(&norm))
            {
                continue;
            }
        }
        if !categories.contains(&rule.category) {
            categories.push(rule.category);
        }
        ids.push(rule.id);
    }
    categories.sort();
    let tier = categories.iter().map(|c| c.tier()).max().unwrap_or(1);
    Assessment {
        tier,
        categories,
        rules: ids,
    }
}

fn negated(before: &str) -> bool {
    let tail_start = before
        .char_indices()
        .rev()
        .nth(40)
        .map(|(i, _)| i)
        .unwrap_or(0);
    negation().is_match(&before[tail_start..])
}

fn academic_only(norm: &str) -> bool {
    static SCHOOL: OnceLock<Regex> = OnceLock::new();
    SCHOOL
        .get_or_init(|| Regex::new(r"\b(?:learn(?:ed|ing|t)? about|health class|essay|report|project|presentation|dare program|drug safety|dangers of|effects of)\b").unwrap())
        .is_match(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(t: &str) -> u8 {
        classify(t).tier
    }

    #[test]
    fn contract_examples() {
        for t in [
            "this homework is killing me",
            "I died laughing",
            "my phone died",
            "I'm dying to see it",
            "we learned about drug safety",
            "my grandpa died last year and I miss him",
        ] {
            assert_eq!(tier(t), 1, "{t}");
        }
        for t in [
            "kms",
            "I want to unalive myself",
            "I don't want to wake up tomorrow",
            "I've been cutting again",
            "I want to die",
            "my uncle touches me down there",
        ] {
            assert_eq!(tier(t), 3, "{t}");
        }
        for t in ["spills everywhere lol", "I love haircutting videos"] {
            assert_eq!(tier(t), 1, "{t}");
        }
        assert_eq!(tier("I smoked weed with my cousin"), 2);
        assert_eq!(tier("I would never hurt myself"), 1);
    }

    #[test]
    fn assessment_names_rules_and_categories() {
        let a = classify("i wanna kill myself and i've been drinking");
        assert_eq!(a.tier, 3);
        assert_eq!(a.categories, vec![Category::Suicide, Category::Substances]);
        assert!(a.rules.contains(&"suicide.kill_self"));
    }

    #[test]
    fn resources_are_checked_in_replies() {
        let r = default_crisis_resources();
        assert!(!mentions_resources("You matter.", &r));
        assert!(mentions_resources(&resources_text(&r), &r));
    }
}
